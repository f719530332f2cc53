package input

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/witdata/wit/shards"
)

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if strings.HasSuffix(name, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		data = buf.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func collect(t *testing.T, path string, opts Options) ([][]string, error) {
	t.Helper()
	var out [][]string
	for row, err := range Read(context.Background(), path, opts) {
		if err != nil {
			return out, err
		}
		out = append(out, row.Values)
	}
	return out, nil
}

func TestReadFormats(t *testing.T) {
	urlCaption := Options{Columns: []string{"url", "caption"}}
	want := [][]string{{"http://a.test/1.jpg", "a red apple"}, {"http://a.test/2.jpg", "two cats, sleeping"}}
	tests := []struct {
		name string
		file string
		data string
		opts Options
		want [][]string
	}{
		{"txt with comments and blanks", "seeds.txt", "# seeds\n\nhttp://a.test/\n  http://b.test/x  \n#http://skip.test/\n",
			Options{Columns: []string{"url"}}, [][]string{{"http://a.test/"}, {"http://b.test/x"}}},
		{"txt gz", "seeds.txt.gz", "http://a.test/\n", Options{Columns: []string{"url"}}, [][]string{{"http://a.test/"}}},
		{"txt no trailing newline, BOM", "s.txt", "\ufeffhttp://a.test/", Options{Columns: []string{"url"}}, [][]string{{"http://a.test/"}}},
		{"csv", "l.csv", "id,url,caption\n1,http://a.test/1.jpg,a red apple\n2,http://a.test/2.jpg,\"two cats, sleeping\"\n", urlCaption, want},
		{"csv gz", "l.csv.gz", "url,caption\nhttp://a.test/1.jpg,a red apple\nhttp://a.test/2.jpg,\"two cats, sleeping\"\n", urlCaption, want},
		{"csv missing optional column", "l.csv", "url\nhttp://a.test/1.jpg\n", urlCaption, [][]string{{"http://a.test/1.jpg", ""}}},
		{"tsv", "l.tsv", "url\tcaption\nhttp://a.test/1.jpg\ta red apple\nhttp://a.test/2.jpg\ttwo cats, sleeping\n", urlCaption, want},
		{"jsonl", "l.jsonl", `{"url":"http://a.test/1.jpg","caption":"a red apple","n":1}` + "\n\n" + `{"url":"http://a.test/2.jpg","caption":"two cats, sleeping"}`, urlCaption, want},
		{"json array", "l.json", `[{"url":"http://a.test/1.jpg","caption":"a red apple"},{"url":"http://a.test/2.jpg","caption":"two cats, sleeping"}]`, urlCaption, want},
		{"jsonl numbers", "l.jsonl", `{"url":"u","caption":12.5}`, urlCaption, [][]string{{"u", "12.5"}}},
		{"empty csv", "e.csv", "", urlCaption, nil},
		{"empty txt", "e.txt", "", Options{Columns: []string{"url"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(t, write(t, tt.file, []byte(tt.data)), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, file, data, wantErr string
	}{
		{"missing required column", "l.csv", "link,caption\nx,y\n", `no column "url"`},
		{"bad json array", "l.json", `[{"url": "a"}, {broken]`, "record 2"},
		{"invalid utf8 in header", "l.tsv", "url\xff\tcaption\nx\ty\n", "header: invalid_utf8"},
		{"unknown extension", "l.xlsx", "x", "unknown extension"},
		{"corrupt gzip", "l.txt.gz", "", "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, tt.file, []byte(tt.data))
			if tt.name == "corrupt gzip" {
				os.WriteFile(path, []byte("not gzip"), 0o644)
			}
			_, err := collect(t, path, Options{Columns: []string{"url", "caption"}})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadArrowDirAndParquet(t *testing.T) {
	dir := t.TempDir()
	w, err := shards.NewWriter(dir, shards.PairSchema, shards.WriterOptions{RowsPerFile: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		shards.AppendPair(w.Builder(), shards.Pair{PageURL: "http://p.test/", ImageURL: "http://p.test/" + string(rune('a'+i)) + ".jpg", Caption: "cap " + string(rune('a'+i)), CaptionSource: "alt", FetchedAt: time.Now()})
		w.EndRow()
	}
	w.Close()
	got, err := collect(t, dir, Options{Columns: []string{"image_url", "caption", "absent"}, Required: []string{"image_url"}, Arrow: shards.ReadPath})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2][1] != "cap c" || got[0][2] != "" {
		t.Fatalf("arrow dir rows = %q", got)
	}

	// Parquet, as img2dataset's inputs come.
	schema := arrow.NewSchema([]arrow.Field{{Name: "url", Type: arrow.BinaryTypes.String}, {Name: "caption", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"http://a.test/1.jpg", "http://a.test/2.jpg"}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a red apple", ""}, []bool{true, false})
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "l.parquet")
	f, _ := os.Create(path)
	pw, err := pqarrow.NewFileWriter(schema, f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.Write(rec); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	got, err = collect(t, path, Options{Columns: []string{"url", "caption"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, [][]string{{"http://a.test/1.jpg", "a red apple"}, {"http://a.test/2.jpg", ""}}) {
		t.Fatalf("parquet rows = %q", got)
	}
	if _, err := collect(t, write(t, "bad.parquet", []byte("PAR1 garbage")), Options{Columns: []string{"url"}}); err == nil {
		t.Fatal("corrupt parquet gave no error")
	}
	if _, err := collect(t, t.TempDir(), Options{Columns: []string{"url"}, Arrow: shards.ReadPath}); err == nil || !strings.Contains(err.Error(), "no shard files") {
		t.Fatalf("empty dir: %v", err)
	}
	if _, err := collect(t, dir, Options{Columns: []string{"url"}}); err == nil || !strings.Contains(err.Error(), "no Options.Arrow") {
		t.Fatalf("arrow without a reader: %v", err)
	}
}

func TestReadStopsEarly(t *testing.T) {
	path := write(t, "s.txt", []byte("a\nb\nc\n"))
	n := 0
	for range Read(context.Background(), path, Options{Columns: []string{"url"}}) {
		n++
		break
	}
	if n != 1 {
		t.Fatal("iterator did not stop")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range Read(ctx, path, Options{Columns: []string{"url"}}) {
		if err == nil {
			t.Fatal("cancelled context gave a row")
		}
	}
}
