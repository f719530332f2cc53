package cliconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

type section struct {
	Workers int           `yaml:"workers"`
	Delay   time.Duration `yaml:"delay"`
	Hosts   []string      `yaml:"hosts"`
}

type options struct {
	Name     string   `yaml:"name"`
	Quiet    bool     `yaml:"quiet"`
	Count    int64    `yaml:"count"`
	Seed     uint64   `yaml:"seed"`
	Rate     float64  `yaml:"rate"`
	MaxBytes int64    `yaml:"max_bytes"`
	Inputs   []string `yaml:"inputs"`
	A        section  `yaml:"a"`
	B        section  `yaml:"b"`
}

func defaults() options {
	return options{Name: "def", Count: 7, Rate: 0.5, MaxBytes: 1 << 20,
		A: section{Workers: 2, Delay: time.Second}, B: section{Workers: 2, Delay: time.Second}}
}

// bound declares one flag of every kind over o, --delay setting both sections.
func bound(o *options, fs *pflag.FlagSet) *Binder {
	b := New(fs, o, "YAML file")
	b.String(&o.Name, "name", "a name")
	b.Bool(&o.Quiet, "quiet", "no output")
	b.Int64(&o.Count, "count", "how many").ZeroMeansUnset()
	b.Uint64(&o.Seed, "seed", "seed")
	b.Float64(&o.Rate, "rate", "rate")
	b.Bytes(&o.MaxBytes, "max-bytes", "largest")
	b.Repeated(&o.Inputs, "input", "input file (repeatable)")
	b.Int(&o.A.Workers, "workers", "workers of a")
	b.List(&o.A.Hosts, "hosts", "hosts of a")
	b.Duration(&o.A.Delay, "delay", "delay of a and b", &o.B.Delay)
	return b
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	file := `name: from-file
count: 9
rate: 0.25
a:
  workers: 5
  hosts: [x.org, y.org]
b:
  delay: 3s
`
	for _, tc := range []struct {
		name string
		file string // "" = no --config
		args []string
		want func(*options)
	}{
		{"defaults", "", nil, func(o *options) {}},
		{"file over defaults", file, nil, func(o *options) {
			o.Name, o.Count, o.Rate, o.A.Workers, o.A.Hosts, o.B.Delay = "from-file", 9, 0.25, 5, []string{"x.org", "y.org"}, 3*time.Second
		}},
		{"set flags over file", file, []string{"--name", "flag", "--workers", "8", "--hosts", "a.org, ,b.org", "--rate", "0"}, func(o *options) {
			o.Name, o.Count, o.Rate, o.A.Workers, o.A.Hosts, o.B.Delay = "flag", 9, 0, 8, []string{"a.org", "b.org"}, 3*time.Second
		}},
		{"flag set to its default still wins", file, []string{"--name", "def", "--workers", "2"}, func(o *options) {
			o.Name, o.Count, o.Rate, o.A.Workers, o.A.Hosts, o.B.Delay = "def", 9, 0.25, 2, []string{"x.org", "y.org"}, 3*time.Second
		}},
		{"one flag, two fields", file, []string{"--delay", "0s"}, func(o *options) {
			o.Name, o.Count, o.Rate, o.A.Workers, o.A.Hosts = "from-file", 9, 0.25, 5, []string{"x.org", "y.org"}
			o.A.Delay, o.B.Delay = 0, 0
		}},
		{"zero means unset", file, []string{"--count", "0"}, func(o *options) {
			o.Name, o.Count, o.Rate, o.A.Workers, o.A.Hosts, o.B.Delay = "from-file", 9, 0.25, 5, []string{"x.org", "y.org"}, 3*time.Second
		}},
		{"typed flags", "", []string{"--quiet", "--seed", "3", "--max-bytes", "2MiB", "--input", "a,b", "--input", "c", "--count", "4"}, func(o *options) {
			o.Quiet, o.Seed, o.MaxBytes, o.Inputs, o.Count = true, 3, 2<<20, []string{"a,b", "c"}, 4
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := defaults()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			b := bound(&o, fs)
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o, defaults()) {
				t.Fatalf("parsing wrote into the options before Resolve: %+v", o)
			}
			if err := b.Resolve(); err != nil {
				t.Fatal(err)
			}
			want := defaults()
			tc.want(&want)
			if !reflect.DeepEqual(o, want) {
				t.Errorf("got  %+v\nwant %+v", o, want)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string // substrings of the error
	}{
		{"unknown key", "name: x\nnmae: y\n", []string{"c.yaml:2: key nmae: unknown key"}},
		{"unknown nested key", "a:\n  workers: 3\n  wrokers: 4\n", []string{"c.yaml:3: key a.wrokers: unknown key"}},
		{"unknown key in a flow mapping", "b: {delay: 1s, dealy: 2s}\n", []string{"c.yaml:1: key b.dealy: unknown key"}},
		{"wrong type", "count: many\n", []string{"c.yaml:1: key count: cannot unmarshal !!str `many` into int64"}},
		{"wrong type, value on the next line", "a:\n  workers:\n    lots\n", []string{"c.yaml:3: key a.workers: cannot unmarshal"}},
		{"bad duration", "a:\n  delay: soon\n", []string{"c.yaml:2: key a.delay:", "time.Duration"}},
		{"section not a mapping", "a: 5\n", []string{"c.yaml:1: key a: cannot unmarshal"}},
		{"every error reported", "nmae: x\ncount: y\n", []string{"c.yaml:1: key nmae: unknown key", "c.yaml:2: key count:"}},
		{"not a mapping", "- a\n- b\n", []string{"c.yaml:1: the file must be a mapping"}},
		{"syntax", "name: [x\n", []string{"c.yaml:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := defaults()
			err := LoadFile(writeFile(t, tc.file), &o)
			if err == nil {
				t.Fatalf("no error; options %+v", o)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	o := defaults()
	if err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml"), &o); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	for _, empty := range []string{"", "# only a comment\n", "~\n"} {
		o := defaults()
		if err := LoadFile(writeFile(t, empty), &o); err != nil || !reflect.DeepEqual(o, defaults()) {
			t.Errorf("empty file %q: %v, %+v", empty, err, o)
		}
	}
}

// A bad --config stops Resolve before any flag is applied.
func TestResolveFileError(t *testing.T) {
	o := defaults()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	b := bound(&o, fs)
	if err := fs.Parse([]string{"--config", writeFile(t, "bogus: 1\n"), "--name", "x"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Resolve(); err == nil {
		t.Fatal("unknown key accepted")
	}
}

func TestDefaultsInHelp(t *testing.T) {
	o := defaults()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	b := bound(&o, fs)
	b.SetDefaultFile("preset.yaml")
	for name, want := range map[string]string{"name": "def", "count": "7", "rate": "0.5", "max-bytes": "1048576", "delay": "1s", "config": "preset.yaml"} {
		if got := fs.Lookup(name).DefValue; got != want {
			t.Errorf("--%s default %q, want %q", name, got, want)
		}
	}
	if b.File() != "preset.yaml" {
		t.Errorf("file %q", b.File())
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Usage == "" {
			t.Errorf("--%s has no help", f.Name)
		}
	})
	defer func() {
		if recover() == nil {
			t.Error("a flag declared twice did not panic")
		}
	}()
	b.Int(&o.B.Workers, "workers", "again")
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"1048576": 1 << 20, "20MiB": 20 << 20, "20mib": 20 << 20, "500KB": 500_000, "1.5GB": 1_500_000_000,
		"2g": 2 << 30, "0": 0, " 64 KiB ": 64 << 10, "10b": 10,
	} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-5", "ten", "5 parsecs", "inf", "NaN", "1e30"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q): no error", bad)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"20MiB", "1.5GB", "0", "-1", "1e30", "inf", "b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err == nil && n < 0 {
			t.Errorf("ParseBytes(%q) = %d", s, n)
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"name: x\n", "a:\n  workers: 3\n", "b: {delay: 1s, dealy: 2s}\n", "- a\n", "count: many\n", "a: 5\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o := defaults()
		if err := Decode([]byte(s), &o); err != nil && err.Error() == "" {
			t.Error("empty error message")
		}
	})
}
