package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// names lists dir's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stats.json")
	for _, content := range []string{"first", "second, longer content", ""} {
		if err := WriteFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", st.Mode().Perm())
	}
	if n := names(t, dir); len(n) != 1 {
		t.Fatalf("temp files left: %v", n)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.json"), []byte("x")); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	if err := WriteJSON(path, map[string]int{"b": 2, "a": 1}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := "{\n  \"a\": 1,\n  \"b\": 2\n}\n"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if err := WriteJSON(path, func() {}); err == nil || !strings.Contains(err.Error(), "encode") {
		t.Fatalf("a func encoded: %v", err)
	}
	if got2, _ := os.ReadFile(path); string(got2) != string(got) {
		t.Fatal("a failed encode changed the file")
	}
}

// TestFileStreaming: nothing shows under the final name until Commit; Finish then Commit, with
// something done in between, is the shard writer's protocol.
func TestFileStreaming(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "00000.arrow")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := any(f).(io.Closer); ok {
		t.Fatal("File is an io.Closer: a library closing its sink would end it")
	}
	if f.Path() != path || filepath.Dir(f.TempPath()) != dir || !strings.HasPrefix(filepath.Base(f.TempPath()), "00000.arrow"+TempMarker) {
		t.Fatalf("paths %q, %q", f.Path(), f.TempPath())
	}
	big := strings.Repeat("x", 100<<10) // more than the buffer
	for _, s := range []string{"head ", big, " tail"} {
		if _, err := f.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if f.Size() != int64(len(big)+10) {
		t.Fatalf("size %d", f.Size())
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("final name visible before commit: %v", err)
	}
	if err := f.Finish(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("late")); err == nil {
		t.Fatal("write after Finish succeeded")
	}
	// Finished: complete and readable under the temporary name, still not under the final one.
	if data, err := os.ReadFile(f.TempPath()); err != nil || len(data) != len(big)+10 {
		t.Fatalf("temp file: %d bytes, %v", len(data), err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort() // after Commit: nothing
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "head "+big+" tail" {
		t.Fatalf("committed %d bytes, %v", len(data), err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	if err := f.Commit(); err == nil {
		t.Fatal("second commit succeeded")
	}
	if n := names(t, dir); len(n) != 1 {
		t.Fatalf("left: %v", n)
	}
}

func TestFileAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.tar")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, finish := range []bool{false, true} {
		f, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("new"))
		if finish {
			if err := f.Finish(); err != nil {
				t.Fatal(err)
			}
		}
		f.Abort()
		f.Abort()
		if err := f.Commit(); err == nil {
			t.Fatal("commit after abort succeeded")
		}
		if data, _ := os.ReadFile(path); string(data) != "old" {
			t.Fatalf("abort changed the file: %q", data)
		}
		if n := names(t, dir); len(n) != 1 {
			t.Fatalf("abort left %v", n)
		}
	}
	if _, err := Create(filepath.Join(dir, "missing", "x")); err == nil {
		t.Fatal("create in a missing directory succeeded")
	}
}

func TestDir(t *testing.T) {
	tests := []struct {
		name    string
		before  func(out string) // what is at the final path before Commit
		wantErr bool
	}{
		{"absent", func(string) {}, false},
		{"empty directory", func(out string) { os.Mkdir(out, 0o755) }, false},
		{"non-empty directory", func(out string) {
			os.Mkdir(out, 0o755)
			os.WriteFile(filepath.Join(out, "keep"), []byte("x"), 0o644)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "out")
			d, err := CreateDir(out + "/")
			if err != nil {
				t.Fatal(err)
			}
			if d.Path() != out || !strings.HasPrefix(filepath.Base(d.TempPath()), ".out"+TempMarker) {
				t.Fatalf("paths %q, %q", d.Path(), d.TempPath())
			}
			if st, _ := os.Stat(d.TempPath()); st.Mode().Perm() != 0o755 {
				t.Fatalf("temp dir mode %v", st.Mode().Perm())
			}
			if err := WriteFile(filepath.Join(d.TempPath(), "a"), []byte("A")); err != nil {
				t.Fatal(err)
			}
			tt.before(out)
			err = d.Commit()
			if tt.wantErr {
				if err == nil {
					t.Fatal("commit over a non-empty directory succeeded")
				}
				if _, err := os.Stat(filepath.Join(out, "keep")); err != nil {
					t.Fatalf("the existing directory lost its file: %v", err)
				}
				d.Abort()
				if n := names(t, parent); len(n) != 1 {
					t.Fatalf("abort left %v", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d.Abort() // after Commit: nothing
			if data, err := os.ReadFile(filepath.Join(out, "a")); err != nil || string(data) != "A" {
				t.Fatalf("committed dir: %q, %v", data, err)
			}
			if n := names(t, parent); len(n) != 1 {
				t.Fatalf("left %v", n)
			}
		})
	}
	if _, err := CreateDir(filepath.Join(t.TempDir(), "missing", "out")); err == nil {
		t.Fatal("CreateDir under a missing parent succeeded")
	}
}

// TestDirReplace: Replace puts the new directory in place over an existing non-empty one and
// leaves neither the old content nor the aside name behind.
func TestDirReplace(t *testing.T) {
	for _, existing := range []bool{false, true} {
		parent := t.TempDir()
		out := filepath.Join(parent, "step")
		if existing {
			os.Mkdir(out, 0o755)
			os.WriteFile(filepath.Join(out, "old"), []byte("x"), 0o644)
		}
		d, err := CreateDir(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(filepath.Join(d.TempPath(), "new"), []byte("N")); err != nil {
			t.Fatal(err)
		}
		if err := d.Replace(); err != nil {
			t.Fatalf("existing=%v: %v", existing, err)
		}
		if got := names(t, out); len(got) != 1 || got[0] != "new" {
			t.Errorf("existing=%v: directory holds %v, want [new]", existing, got)
		}
		if got := names(t, parent); len(got) != 1 || got[0] != "step" {
			t.Errorf("existing=%v: parent holds %v, want [step]", existing, got)
		}
		if err := d.Replace(); err == nil {
			t.Errorf("existing=%v: a second Replace succeeded", existing)
		}
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file, so a second Lock fails even in the same process.
	if _, err := Lock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	unlock()
	again, err := Lock(path)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again()
	if _, err := Lock(filepath.Join(t.TempDir(), "missing", "lock")); err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("lock in a missing folder: %v", err)
	}
}
