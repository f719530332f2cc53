package cliconfig

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// ConfigFlag is the name of the flag that names the YAML file.
const ConfigFlag = "config"

// Binder holds one command's options: the struct the YAML file is decoded into and, for every
// declared flag, how to copy its value onto its fields.
type Binder struct {
	fs      *pflag.FlagSet
	target  any    // pointer to the struct the YAML file fills
	file    string // value of --config
	options []*Option
}

// Option is one declared flag.
type Option struct {
	name           string
	apply          func() // copies the flag's value onto its fields
	isZero         func() bool
	zeroMeansUnset bool
}

// New declares --config on fs (help says what the file holds) and returns the binder that
// decodes that file into target, a pointer to a struct already holding the defaults.
func New(fs *pflag.FlagSet, target any, help string) *Binder {
	if v := reflect.ValueOf(target); v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("cliconfig.New: target must point to a struct, got %T", target))
	}
	b := &Binder{fs: fs, target: target}
	fs.StringVar(&b.file, ConfigFlag, "", help)
	return b
}

// SetDefaultFile makes --config default to path (wit train's model preset).
func (b *Binder) SetDefaultFile(path string) {
	b.file = path
	b.fs.Lookup(ConfigFlag).DefValue = path
}

// File is the YAML file in effect ("" for none); valid after the flags are parsed.
func (b *Binder) File() string { return b.file }

// Changed reports whether the flag name was set on the command line.
func (b *Binder) Changed(name string) bool { return b.fs.Changed(name) }

// Resolve decodes the --config file (if any) over the defaults, then applies every flag that was
// set on the command line. Call it once, first thing in RunE.
func (b *Binder) Resolve() error {
	if b.file != "" {
		if err := LoadFile(b.file, b.target); err != nil {
			return err
		}
	}
	for _, o := range b.options {
		if b.fs.Changed(o.name) && !(o.zeroMeansUnset && o.isZero()) {
			o.apply()
		}
	}
	return nil
}

// ZeroMeansUnset makes an explicit 0 (or "", false) count as not set, for flags whose 0 has always
// meant "the file's value" (wit train's --steps, --batch-size and --lr).
func (o *Option) ZeroMeansUnset() *Option {
	o.zeroMeansUnset = true
	return o
}

// bind declares a flag with define (on a shadow variable holding p's current value, so the flag
// never writes into the struct before the file is read) and records how to apply it to p and also.
func bind[T any](b *Binder, p *T, also []*T, name string, define func(shadow *T)) *Option {
	if b.fs.Lookup(name) != nil {
		panic(fmt.Sprintf("cliconfig: flag --%s declared twice", name))
	}
	shadow := new(T)
	*shadow = *p
	define(shadow)
	o := &Option{
		name: name,
		apply: func() {
			*p = *shadow
			for _, q := range also {
				*q = *shadow
			}
		},
		isZero: func() bool { return reflect.ValueOf(shadow).Elem().IsZero() },
	}
	b.options = append(b.options, o)
	return o
}

// String declares a string flag bound to p (and also).
func (b *Binder) String(p *string, name, help string, also ...*string) *Option {
	return bind(b, p, also, name, func(v *string) { b.fs.StringVar(v, name, *v, help) })
}

// Bool declares a boolean flag bound to p (and also).
func (b *Binder) Bool(p *bool, name, help string, also ...*bool) *Option {
	return bind(b, p, also, name, func(v *bool) { b.fs.BoolVar(v, name, *v, help) })
}

// Int declares an int flag bound to p (and also).
func (b *Binder) Int(p *int, name, help string, also ...*int) *Option {
	return bind(b, p, also, name, func(v *int) { b.fs.IntVar(v, name, *v, help) })
}

// Int64 declares an int64 flag bound to p (and also).
func (b *Binder) Int64(p *int64, name, help string, also ...*int64) *Option {
	return bind(b, p, also, name, func(v *int64) { b.fs.Int64Var(v, name, *v, help) })
}

// Uint64 declares a uint64 flag bound to p (and also).
func (b *Binder) Uint64(p *uint64, name, help string, also ...*uint64) *Option {
	return bind(b, p, also, name, func(v *uint64) { b.fs.Uint64Var(v, name, *v, help) })
}

// Float64 declares a float64 flag bound to p (and also).
func (b *Binder) Float64(p *float64, name, help string, also ...*float64) *Option {
	return bind(b, p, also, name, func(v *float64) { b.fs.Float64Var(v, name, *v, help) })
}

// Duration declares a Go duration flag (250ms, 1m30s) bound to p (and also).
func (b *Binder) Duration(p *time.Duration, name, help string, also ...*time.Duration) *Option {
	return bind(b, p, also, name, func(v *time.Duration) { b.fs.DurationVar(v, name, *v, help) })
}

// List declares a comma-separated list flag ("a, b,,c" is [a b c]) bound to p (and also); in the
// YAML file the value is a sequence.
func (b *Binder) List(p *[]string, name, help string, also ...*[]string) *Option {
	return bind(b, p, also, name, func(v *[]string) { b.fs.Var((*listValue)(v), name, help) })
}

// Repeated declares a repeatable string flag (--corpus a --corpus b) bound to p (and also); in
// the YAML file the value is a sequence.
func (b *Binder) Repeated(p *[]string, name, help string, also ...*[]string) *Option {
	return bind(b, p, also, name, func(v *[]string) { b.fs.StringArrayVar(v, name, *v, help) })
}

// Bytes declares a byte-count flag written as 1048576, 500KB, 20MiB, 1.5GB, ... bound to p (and
// also); in the YAML file the value is a plain number of bytes.
func (b *Binder) Bytes(p *int64, name, help string, also ...*int64) *Option {
	return bind(b, p, also, name, func(v *int64) { b.fs.Var((*bytesValue)(v), name, help) })
}

// SplitList is a comma-separated value's items, trimmed, empty ones left out.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }
func (l *listValue) Type() string   { return "list" }
func (l *listValue) Set(s string) error {
	*l = SplitList(s)
	return nil
}

type bytesValue int64

func (v *bytesValue) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *bytesValue) Type() string   { return "bytes" }
func (v *bytesValue) Set(s string) error {
	n, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*v = bytesValue(n)
	return nil
}

// ParseBytes reads a byte count: a number with an optional unit, decimal (KB, MB, GB, TB) or
// binary (KiB, MiB, GiB, TiB; K, M, G alone are binary too), case-insensitive.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}}
	mult := 1.0
	lower := strings.ToLower(t)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if v *= mult; err != nil || !(v >= 0 && v < math.MaxInt64) { // NaN fails too
		return 0, errors.New("want a number of bytes with an optional unit (KB, MiB, GB, ...)")
	}
	return int64(v), nil
}
