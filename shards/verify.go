package shards

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/witdata/wit/internal/storage"
)

// Kinds of shard directories.
const (
	KindSamples = "samples" // image samples (SampleSchema): fetch output
	KindPairs   = "pairs"   // (image URL, caption) pairs (PairSchema): crawl and filter output
	KindOther   = "other"   // any other Arrow schema
)

// KindOf tells what a schema holds: samples when it has an image column, pairs when it has an
// image URL column.
func KindOf(s *arrow.Schema) string {
	switch {
	case len(s.FieldIndices(ColImage)) > 0:
		return KindSamples
	case len(s.FieldIndices(ColImageURL)) > 0:
		return KindPairs
	}
	return KindOther
}

// Problem is one thing wrong in a shard directory. Batch and Row are -1 when the problem is not
// about one batch or row.
type Problem struct {
	File   string `json:"file"`
	Batch  int    `json:"batch"`
	Row    int    `json:"row"`
	Key    string `json:"key,omitempty"`
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Batch >= 0 {
		fmt.Fprintf(&b, " batch %d", p.Batch)
	}
	if p.Row >= 0 {
		fmt.Fprintf(&b, " row %d", p.Row)
	}
	if p.Key != "" {
		fmt.Fprintf(&b, " key %s", p.Key)
	}
	b.WriteString(": ")
	b.WriteString(p.Reason)
	return b.String()
}

// VerifyOptions controls Verify.
type VerifyOptions struct {
	// DecodeImages decodes every image fully instead of reading its header only. Batch
	// checksums already catch any changed byte of a shard that has them; for older shards this
	// catches corruption inside the entropy-coded data (most of it: a flipped bit there can
	// still decode to wrong pixels without an error) at ~2 ms per 256 px image (one core).
	DecodeImages bool
	// MaxProblems caps the problems kept in the report (default 1000); all are counted.
	MaxProblems int
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	Dir          string    `json:"dir"`
	Kind         string    `json:"kind"`
	Files        int       `json:"files"`
	Batches      int       `json:"batches"`
	Rows         int64     `json:"rows"`
	Bytes        int64     `json:"bytes"`
	Images       int64     `json:"images_checked"`
	Checksummed  int       `json:"batches_checksummed"` // batches whose content matched their checksum
	ProblemCount int       `json:"problem_count"`
	Problems     []Problem `json:"problems"`
	Notes        []string  `json:"notes,omitempty"` // what was not checked, and why
}

// OK reports whether no problem was found.
func (r *VerifyReport) OK() bool { return r.ProblemCount == 0 }

// Verify checks every committed shard file in dir: it opens each file, reads every batch (which
// validates buffers and offsets) and compares it with the checksum written with it (shards
// written before checksums have none: a note says how many), checks the schema is the same in every file and has the
// expected column types, compares row counts and sizes with manifest.json, sizes.json and the
// NNNNN_stats.json records when present, checks keys are well formed and unique, and that every
// image is a JPEG whose header decodes to the width and height in its row. Leftover temporary
// files are reported too. Problems go into the report; the error is for a directory that cannot
// be listed or a cancelled context.
//
// Key uniqueness holds one entry per sample in memory (about 40 bytes each).
func Verify(ctx context.Context, dir string, opts VerifyOptions) (*VerifyReport, error) {
	if opts.MaxProblems <= 0 {
		opts.MaxProblems = 1000
	}
	v := &verifier{opts: opts, rep: &VerifyReport{Dir: dir, Problems: []Problem{}}, keys: map[numKey]keyLoc{}, strKeys: map[string]keyLoc{}}
	entries, err := listEntries(dir)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	v.entries = entries
	for _, e := range entries {
		if strings.Contains(e.Name, tempMarker) {
			v.add(Problem{File: e.Name, Batch: -1, Row: -1, Reason: "stray temporary file (a killed run left it; the next run of the stage removes it)"})
		}
	}
	files, err := ListFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if len(files) == 0 {
		v.add(Problem{File: dir, Batch: -1, Row: -1, Reason: "no shard files (NNNNN.arrow)"})
	}
	rows := map[string]int64{} // file -> rows, only for files read without error
	for fi, path := range files {
		if err := ctx.Err(); err != nil {
			return v.rep, err
		}
		n, ok := v.file(fi, path)
		if ok {
			rows[storage.Base(path)] = n
		}
	}
	v.checkStats(dir, files, rows)
	v.checkManifest(dir, files, rows)
	if v.unchecked > 0 {
		v.note("%d of %d files have no checksums (written before wit recorded them): a changed byte there is found only where it breaks the structure, a key or an image header (or, with --decode, the image data)", v.unchecked, len(files))
	}
	return v.rep, nil
}

// numKey is a key of digits held as a number plus its length (leading zeros matter).
type numKey struct {
	n   uint64
	len uint8
}

type keyLoc struct {
	file int32
	row  int32
}

type verifier struct {
	opts    VerifyOptions
	rep     *VerifyReport
	schema  *arrow.Schema
	first   string
	keys    map[numKey]keyLoc
	strKeys map[string]keyLoc // keys that are not short digit strings (malformed, but still checked)
	files   []string
	// unchecked counts files written without checksums (before wit recorded them).
	unchecked int
	entries   []storage.Info // the directory's listing (names and sizes)
}

// size returns the listed size of the file name in the directory.
func (v *verifier) size(name string) (int64, bool) {
	for _, e := range v.entries {
		if e.Name == name && !e.IsDir {
			return e.Size, true
		}
	}
	return 0, false
}

func (v *verifier) add(p Problem) {
	v.rep.ProblemCount++
	if len(v.rep.Problems) < v.opts.MaxProblems {
		v.rep.Problems = append(v.rep.Problems, p)
	}
}

func (v *verifier) note(format string, args ...any) {
	v.rep.Notes = append(v.rep.Notes, fmt.Sprintf(format, args...))
}

// expectedTypes are the column types of the known schemas.
func expectedTypes(kind string) *arrow.Schema {
	switch kind {
	case KindSamples:
		return SampleSchema
	case KindPairs:
		return PairSchema
	}
	return nil
}

// file checks one shard file; ok is false when some of it could not be read.
func (v *verifier) file(fi int, path string) (rows int64, ok bool) {
	name := storage.Base(path)
	v.files = append(v.files, name)
	v.rep.Files++
	if size, ok := v.size(name); ok {
		v.rep.Bytes += size
	}
	f, err := Open(path)
	if err != nil {
		v.add(Problem{File: name, Batch: -1, Row: -1, Reason: trimPath(err, path)})
		return 0, false
	}
	defer f.Close()
	if v.schema == nil {
		v.schema, v.first = f.Schema(), name
		v.rep.Kind = KindOf(v.schema)
		if want := expectedTypes(v.rep.Kind); want != nil {
			for _, wf := range want.Fields() {
				idx := v.schema.FieldIndices(wf.Name)
				if len(idx) == 0 {
					v.add(Problem{File: name, Batch: -1, Row: -1, Reason: fmt.Sprintf("missing column %q (%s schema)", wf.Name, v.rep.Kind)})
				} else if got := v.schema.Field(idx[0]).Type; !arrow.TypeEqual(got, wf.Type) {
					v.add(Problem{File: name, Batch: -1, Row: -1, Reason: fmt.Sprintf("column %q has type %s, want %s", wf.Name, got, wf.Type)})
				}
			}
		}
	} else if !f.Schema().Equal(v.schema) {
		v.add(Problem{File: name, Batch: -1, Row: -1, Reason: fmt.Sprintf("schema differs from %s: %s vs %s", v.first, schemaString(f.Schema()), schemaString(v.schema))})
	}
	ok = true
	// Checksums are checked here, so that a batch that fails them is still read row by row and
	// its problems named.
	f.VerifyChecksums = false
	if !f.HasChecksums() {
		v.unchecked++
	}
	for b := 0; b < f.NumBatches(); b++ {
		v.rep.Batches++
		rec, err := f.Batch(b)
		if err != nil {
			v.add(Problem{File: name, Batch: b, Row: -1, Reason: trimPath(err, path)})
			ok = false
			continue
		}
		switch present, err := f.CheckBatch(rec); {
		case err != nil:
			v.add(Problem{File: name, Batch: b, Row: -1, Reason: strings.TrimPrefix(err.Error(), ErrCorrupt.Error()+": ")})
		case present:
			v.rep.Checksummed++
		}
		if v.rep.Kind == KindSamples {
			v.samples(fi, name, b, rec, rows)
		}
		rows += rec.NumRows()
		rec.Release()
	}
	v.rep.Rows += rows
	return rows, ok
}

func schemaString(s *arrow.Schema) string {
	parts := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		parts[i] = f.Name + ":" + f.Type.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// trimPath drops the file path from an error message that already names it, so that the report,
// which names the file, does not say it twice.
func trimPath(err error, path string) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "shards: ")
	msg = strings.TrimPrefix(msg, path+": ")
	msg = strings.TrimPrefix(msg, path+" ")
	return msg
}

// WellFormedKey reports whether key is an img2dataset key: 9 to 19 ASCII digits (5-digit shard
// number and 4-digit row, wider only when a data set outgrows them).
func WellFormedKey(key string) bool {
	if len(key) < 9 || len(key) > 19 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < '0' || key[i] > '9' {
			return false
		}
	}
	return true
}

func (v *verifier) samples(fi int, name string, b int, rec arrow.RecordBatch, base int64) {
	// NewSampleColumns checks the column types, so the assertions below cannot mistake a type.
	if _, err := NewSampleColumns(rec); err != nil {
		v.add(Problem{File: name, Batch: b, Row: -1, Reason: trimPath(err, "")})
		return
	}
	s := rec.Schema()
	col := func(n string) arrow.Array {
		if idx := s.FieldIndices(n); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	keys, _ := col(ColKey).(*array.String)
	images, _ := col(ColImage).(*array.Binary)
	widths, _ := col(ColWidth).(*array.Int32)
	heights, _ := col(ColHeight).(*array.Int32)
	shas, _ := col(ColSHA256).(*array.String)
	for i := 0; i < int(rec.NumRows()); i++ {
		row := int(base) + i
		key := ""
		if keys != nil {
			key = keys.Value(i)
			v.checkKey(fi, name, b, row, key, keys.IsNull(i))
		}
		bad := func(format string, args ...any) {
			v.add(Problem{File: name, Batch: b, Row: row, Key: key, Reason: fmt.Sprintf(format, args...)})
		}
		if images != nil {
			if images.IsNull(i) {
				bad("image is null")
			} else {
				w, h := -1, -1
				if widths != nil && widths.IsValid(i) {
					w = int(widths.Value(i))
				}
				if heights != nil && heights.IsValid(i) {
					h = int(heights.Value(i))
				}
				if reason := v.checkImage(images.Value(i), w, h); reason != "" {
					bad("%s", reason)
				}
				v.rep.Images++
			}
		}
		if shas != nil && !isHex64(shas.Value(i)) {
			bad("sha256 %q is not 64 lower-case hex digits", shas.Value(i))
		}
	}
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

func (v *verifier) checkKey(fi int, name string, b, row int, key string, null bool) {
	bad := func(reason string) { v.add(Problem{File: name, Batch: b, Row: row, Key: key, Reason: reason}) }
	if null {
		bad("key is null")
		return
	}
	loc := keyLoc{file: int32(fi), row: int32(row)}
	var prev keyLoc
	var dup bool
	if WellFormedKey(key) {
		var n uint64
		for i := 0; i < len(key); i++ {
			n = n*10 + uint64(key[i]-'0')
		}
		k := numKey{n: n, len: uint8(len(key))}
		if prev, dup = v.keys[k]; !dup {
			v.keys[k] = loc
		}
	} else {
		bad(fmt.Sprintf("malformed key %q (want 9-19 digits: 5-digit shard + 4-digit row)", key))
		if prev, dup = v.strKeys[key]; !dup {
			v.strKeys[strings.Clone(key)] = loc
		}
	}
	if dup {
		bad(fmt.Sprintf("duplicate key (first at %s row %d)", v.files[prev.file], prev.row))
	}
}

// checkImage returns why img is not a JPEG of w x h ("" when it is). w or h < 0: unknown.
func (v *verifier) checkImage(img []byte, w, h int) (reason string) {
	defer func() {
		if p := recover(); p != nil { // the decoders should not panic; a hostile image must not stop verify
			reason = fmt.Sprintf("image decoder panicked: %v", p)
		}
	}()
	if len(img) < 3 || img[0] != 0xFF || img[1] != 0xD8 || img[2] != 0xFF {
		head := img[:min(len(img), 4)]
		return fmt.Sprintf("image does not start with the JPEG SOI marker (starts % x, %d bytes)", head, len(img))
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return fmt.Sprintf("image header: %v", err)
	}
	if (w >= 0 && cfg.Width != w) || (h >= 0 && cfg.Height != h) {
		return fmt.Sprintf("image is %dx%d, columns say %dx%d", cfg.Width, cfg.Height, w, h)
	}
	if v.opts.DecodeImages {
		if _, err := jpeg.Decode(bytes.NewReader(img)); err != nil {
			return fmt.Sprintf("image data: %v", err)
		}
	}
	return ""
}

// checkStats compares each NNNNN_stats.json with its shard.
func (v *verifier) checkStats(dir string, files []string, rows map[string]int64) {
	stats := map[int]string{}
	for _, e := range v.entries {
		if idx, ok := StatsIndex(e.Name); ok && !e.IsDir {
			stats[idx] = e.Name
		}
	}
	if len(stats) == 0 {
		if v.rep.Kind == KindSamples {
			v.note("no NNNNN_stats.json files: per-shard stats not checked")
		}
		return
	}
	present := map[string]bool{}
	for _, path := range files {
		name := storage.Base(path)
		present[name] = true
		idx, _ := FileIndex(name)
		if _, ok := stats[idx]; !ok {
			v.add(Problem{File: name, Batch: -1, Row: -1, Reason: fmt.Sprintf("no %s beside it (other shards have one)", StatsName(idx))})
		}
	}
	idxs := make([]int, 0, len(stats))
	for idx := range stats {
		idxs = append(idxs, idx)
	}
	sort.Ints(idxs)
	for _, idx := range idxs {
		sname := stats[idx]
		bad := func(format string, args ...any) {
			v.add(Problem{File: sname, Batch: -1, Row: -1, Reason: fmt.Sprintf(format, args...)})
		}
		ss, err := ReadShardStats(storage.Join(dir, sname))
		if err != nil {
			bad("%s", trimPath(err, storage.Join(dir, sname)))
			continue
		}
		var failures int64
		for reason, n := range ss.Failures {
			if n < 0 {
				bad("negative failure count %d for %q", n, reason)
			}
			failures += n
		}
		if ss.Count != ss.Successes+failures {
			bad("count %d != successes %d + failures %d", ss.Count, ss.Successes, failures)
		}
		if ss.File == "" { // failures-only record
			if ss.Successes != 0 {
				bad("no file but %d successes", ss.Successes)
			}
			continue
		}
		if ss.File != FileName(idx) {
			bad("names file %q, want %q", ss.File, FileName(idx))
		}
		if !present[ss.File] {
			bad("its shard %s is missing", ss.File)
			continue
		}
		if size, ok := v.size(ss.File); ok && size != ss.Bytes {
			bad("records %d bytes, %s has %d", ss.Bytes, ss.File, size)
		}
		if n, ok := rows[ss.File]; ok && n != ss.Successes {
			bad("records %d successes, %s has %d rows", ss.Successes, ss.File, n)
		}
	}
}

// checkManifest compares manifest.json and sizes.json with the files.
func (v *verifier) checkManifest(dir string, files []string, rows map[string]int64) {
	sizes := map[string]int64{}
	for _, path := range files {
		if size, ok := v.size(storage.Base(path)); ok {
			sizes[storage.Base(path)] = size
		}
	}
	mpath := storage.Join(dir, ManifestName)
	if _, ok := v.size(ManifestName); !ok {
		if v.rep.Kind == KindSamples {
			v.note("no %s: counts not checked against it", ManifestName)
		}
	} else {
		bad := func(format string, args ...any) {
			v.add(Problem{File: ManifestName, Batch: -1, Row: -1, Reason: fmt.Sprintf(format, args...)})
		}
		m, err := ReadManifest(dir)
		if err != nil {
			bad("%s", trimPath(err, mpath))
		} else {
			listed := map[string]bool{}
			var total, totalBytes int64
			for _, s := range m.Shards {
				listed[s.File] = true
				total += s.Count
				totalBytes += s.Bytes
				size, ok := sizes[s.File]
				if !ok {
					bad("lists %s, which does not exist", s.File)
					continue
				}
				if size != s.Bytes {
					bad("lists %s with %d bytes, it has %d", s.File, s.Bytes, size)
				}
				if n, ok := rows[s.File]; ok && n != s.Count {
					bad("lists %s with %d samples, it has %d", s.File, s.Count, n)
				}
			}
			for _, path := range files {
				if name := storage.Base(path); !listed[name] {
					bad("does not list %s", name)
				}
			}
			if total != m.TotalCount {
				bad("total_count %d != sum of shard counts %d", m.TotalCount, total)
			}
			if totalBytes != m.TotalBytes {
				bad("total_bytes %d != sum of shard bytes %d", m.TotalBytes, totalBytes)
			}
		}
	}
	if _, ok := v.size(SizesName); !ok {
		return
	}
	data, err := readFile(storage.Join(dir, SizesName))
	bad := func(format string, args ...any) {
		v.add(Problem{File: SizesName, Batch: -1, Row: -1, Reason: fmt.Sprintf(format, args...)})
	}
	var counts map[string]int64
	if err == nil {
		err = json.Unmarshal(data, &counts)
	}
	if err != nil {
		bad("%v", err)
		return
	}
	for _, path := range files {
		name := storage.Base(path)
		c, ok := counts[name]
		if !ok {
			bad("has no entry for %s", name)
		} else if n, ok := rows[name]; ok && n != c {
			bad("gives %s %d samples, it has %d", name, c, n)
		}
	}
	names := make([]string, 0, len(counts))
	for name := range counts {
		if _, ok := sizes[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		bad("names %s, which does not exist", name)
	}
}

// ---- structural check of the IPC file before the arrow reader sees it ----

// The arrow IPC reader trusts the lengths in a file's footer: a corrupt vector length or block
// size makes it allocate that much (hundreds of GB: a fatal out-of-memory, which recover cannot
// catch). checkStructure bounds-checks the footer flatbuffer (schema, fields, metadata, blocks)
// and every block against the file size first, so such a file is reported, not fatal.

const maxFlatbufDepth = 64

type flatbuf []byte

func (b flatbuf) u16(p int) (int, error) {
	if p < 0 || p+2 > len(b) {
		return 0, fmt.Errorf("offset %d out of %d bytes", p, len(b))
	}
	return int(binary.LittleEndian.Uint16(b[p:])), nil
}

func (b flatbuf) u32(p int) (int, error) {
	if p < 0 || p+4 > len(b) {
		return 0, fmt.Errorf("offset %d out of %d bytes", p, len(b))
	}
	return int(binary.LittleEndian.Uint32(b[p:])), nil
}

type fbTable struct {
	b     flatbuf
	pos   int
	vt    int
	vtLen int
}

// tableAt checks the table at pos and its vtable.
func (b flatbuf) tableAt(pos int) (fbTable, error) {
	soff, err := b.u32(pos)
	if err != nil {
		return fbTable{}, err
	}
	vt := pos - int(int32(uint32(soff)))
	vtLen, err := b.u16(vt)
	if err != nil {
		return fbTable{}, fmt.Errorf("vtable: %w", err)
	}
	objLen, err := b.u16(vt + 2)
	if err != nil || vtLen < 4 || vtLen%2 != 0 || vt+vtLen > len(b) || pos+objLen > len(b) {
		return fbTable{}, fmt.Errorf("bad vtable at %d", vt)
	}
	t := fbTable{b: b, pos: pos, vt: vt, vtLen: vtLen}
	for i := 0; 4+2*i < vtLen; i++ { // every field inside the object
		if o, _ := b.u16(vt + 4 + 2*i); o != 0 && o+1 > objLen {
			return fbTable{}, fmt.Errorf("field %d at %d past its table (%d bytes)", i, o, objLen)
		}
	}
	return t, nil
}

// field returns the position of field i, or 0 when absent.
func (t fbTable) field(i int) int {
	if 4+2*i+2 > t.vtLen {
		return 0
	}
	o, _ := t.b.u16(t.vt + 4 + 2*i)
	if o == 0 {
		return 0
	}
	return t.pos + o
}

// ref follows the offset in field i; 0 when absent.
func (t fbTable) ref(i int) (int, error) {
	p := t.field(i)
	if p == 0 {
		return 0, nil
	}
	o, err := t.b.u32(p)
	if err != nil {
		return 0, err
	}
	if p+o >= len(t.b) || o == 0 {
		return 0, fmt.Errorf("field %d points past the buffer", i)
	}
	return p + o, nil
}

// vector checks the vector in field i of elements of size elem; it returns where its elements
// start and how many there are.
func (t fbTable) vector(i, elem int) (start, n int, err error) {
	p, err := t.ref(i)
	if err != nil || p == 0 {
		return 0, 0, err
	}
	n, err = t.b.u32(p)
	if err != nil {
		return 0, 0, err
	}
	if int64(p)+4+int64(n)*int64(elem) > int64(len(t.b)) {
		return 0, 0, fmt.Errorf("vector of %d elements in field %d runs past the buffer", n, i)
	}
	return p + 4, n, nil
}

// tables checks a vector of tables in field i with check.
func (t fbTable) tables(i int, check func(fbTable) error) error {
	start, n, err := t.vector(i, 4)
	if err != nil {
		return err
	}
	for j := range n {
		p := start + 4*j
		o, _ := t.b.u32(p)
		sub, err := t.b.tableAt(p + o)
		if err != nil {
			return err
		}
		if err := check(sub); err != nil {
			return err
		}
	}
	return nil
}

func (t fbTable) table(i int) (fbTable, bool, error) {
	p, err := t.ref(i)
	if err != nil || p == 0 {
		return fbTable{}, false, err
	}
	sub, err := t.b.tableAt(p)
	return sub, err == nil, err
}

func checkKeyValues(t fbTable, i int) error {
	return t.tables(i, func(kv fbTable) error {
		if _, _, err := kv.vector(0, 1); err != nil {
			return err
		}
		_, _, err := kv.vector(1, 1)
		return err
	})
}

func checkField(f fbTable, depth int) error {
	if depth > maxFlatbufDepth {
		return errors.New("fields nested too deep")
	}
	if _, _, err := f.vector(0, 1); err != nil { // name
		return err
	}
	if _, _, err := f.table(3); err != nil { // type
		return err
	}
	if _, _, err := f.table(4); err != nil { // dictionary
		return err
	}
	if err := f.tables(5, func(c fbTable) error { return checkField(c, depth+1) }); err != nil {
		return err
	}
	return checkKeyValues(f, 6)
}

func checkSchema(s fbTable) error {
	if err := s.tables(1, func(f fbTable) error { return checkField(f, 0) }); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if err := checkKeyValues(s, 2); err != nil {
		return fmt.Errorf("schema metadata: %w", err)
	}
	if _, _, err := s.vector(3, 8); err != nil {
		return fmt.Errorf("schema features: %w", err)
	}
	return nil
}

var arrowMagic = []byte("ARROW1")

// ipcBlock is a record batch's place in the file: its message at off (meta bytes, prefix
// included), then its body.
type ipcBlock struct{ off, meta, body int64 }

// checkStructure bounds-checks an Arrow IPC file's footer and blocks (see above) and returns
// the record batch blocks. Errors wrap ErrCorrupt.
func checkStructure(f storage.Reader, path string) ([]ipcBlock, error) {
	blocks, err := checkStructureErr(f)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("shards: %w", err)
		}
		return nil, fmt.Errorf("shards: %s: %w: %v", path, ErrCorrupt, err)
	}
	return blocks, err
}

func checkStructureErr(f storage.Reader) (blocks []ipcBlock, err error) {
	size := f.Size()
	const tail = 4 + 6 // footer length, magic
	if size < 8+tail {
		return nil, fmt.Errorf("file too small (%d bytes)", size)
	}
	head := make([]byte, 6)
	if _, err := f.ReadAt(head, 0); err != nil || !bytes.Equal(head, arrowMagic) {
		return nil, errors.New("no Arrow file magic at the start")
	}
	end := make([]byte, tail)
	if _, err := f.ReadAt(end, size-tail); err != nil {
		return nil, err
	}
	if !bytes.Equal(end[4:], arrowMagic) {
		return nil, errors.New("no Arrow file magic at the end (truncated?)")
	}
	footerLen := int64(binary.LittleEndian.Uint32(end))
	if footerLen <= 0 || footerLen > size-tail-8 {
		return nil, fmt.Errorf("footer length %d does not fit in %d bytes", footerLen, size)
	}
	fb := make(flatbuf, footerLen)
	if _, err := f.ReadAt(fb, size-tail-footerLen); err != nil {
		return nil, err
	}
	root, err := fb.u32(0)
	if err != nil {
		return nil, fmt.Errorf("footer: %w", err)
	}
	footer, err := fb.tableAt(root)
	if err != nil {
		return nil, fmt.Errorf("footer: %w", err)
	}
	schema, ok, err := footer.table(1)
	if err != nil || !ok {
		return nil, fmt.Errorf("footer schema: %v", err)
	}
	if err := checkSchema(schema); err != nil {
		return nil, err
	}
	if err := checkKeyValues(footer, 4); err != nil {
		return nil, fmt.Errorf("footer metadata: %w", err)
	}
	bodyEnd := size - tail - footerLen
	for _, field := range []int{2, 3} { // dictionaries, record batches: Block{offset int64, metaDataLength int32, pad, bodyLength int64}
		start, n, err := footer.vector(field, 24)
		if err != nil {
			return nil, fmt.Errorf("footer blocks: %w", err)
		}
		for j := range n {
			p := start + 24*j
			off := int64(binary.LittleEndian.Uint64(fb[p:]))
			meta := int64(int32(binary.LittleEndian.Uint32(fb[p+8:])))
			body := int64(binary.LittleEndian.Uint64(fb[p+16:]))
			if off < 8 || meta < 8 || body < 0 || off > bodyEnd || meta > bodyEnd-off || body > bodyEnd-off-meta {
				return nil, fmt.Errorf("block %d (offset %d, metadata %d, body %d bytes) does not fit in the file", j, off, meta, body)
			}
			if field == 3 {
				blocks = append(blocks, ipcBlock{off: off, meta: meta, body: body})
			}
		}
	}
	return blocks, nil
}

// openChecked opens a shard after checkStructure has bounds-checked it.
func openChecked(path string) (*File, error) {
	return Open(path) // Open checks the structure first
}

// Record batch messages are flatbuffers too, read by arrow-go without bounds checks: a corrupt
// vector length in one (the batch's custom metadata holds its checksum) is an allocation of that
// size. checkMessage bounds-checks the message before arrow-go sees it, and, for a compressed
// body, the uncompressed sizes it declares (arrow-go allocates them before decompressing).
const (
	maxUncompressedBuffer = 2 << 30
	maxUncompressedBatch  = 4 << 30
)

func checkMessage(f io.ReaderAt, b ipcBlock) error {
	meta := make([]byte, b.meta)
	if _, err := f.ReadAt(meta, b.off); err != nil {
		return err
	}
	p := 0
	if binary.LittleEndian.Uint32(meta) == 0xFFFFFFFF { // continuation marker, then the length
		p = 4
	}
	n := int64(int32(binary.LittleEndian.Uint32(meta[p:])))
	p += 4
	if n < 0 || n > int64(len(meta)-p) {
		return fmt.Errorf("message of %d bytes in a %d-byte block", n, len(meta))
	}
	fb := flatbuf(meta[p : p+int(n)])
	root, err := fb.u32(0)
	if err != nil {
		return fmt.Errorf("message: %w", err)
	}
	msg, err := fb.tableAt(root)
	if err != nil {
		return fmt.Errorf("message: %w", err)
	}
	if err := checkKeyValues(msg, 4); err != nil {
		return fmt.Errorf("message metadata: %w", err)
	}
	if pos := msg.field(1); pos == 0 || pos >= len(fb) || fb[pos] != 3 { // header_type RecordBatch
		return errors.New("message is not a record batch")
	}
	rb, ok, err := msg.table(2)
	if err != nil || !ok {
		return fmt.Errorf("record batch header: %v", err)
	}
	if _, _, err := rb.vector(1, 16); err != nil { // field nodes
		return fmt.Errorf("record batch nodes: %w", err)
	}
	bufs, nbufs, err := rb.vector(2, 16) // buffers
	if err != nil {
		return fmt.Errorf("record batch buffers: %w", err)
	}
	if _, _, err := rb.vector(4, 8); err != nil { // variadic buffer counts
		return fmt.Errorf("record batch: %w", err)
	}
	_, compressed, err := rb.table(3)
	if err != nil {
		return fmt.Errorf("record batch compression: %w", err)
	}
	var total int64
	for i := range nbufs {
		off := int64(binary.LittleEndian.Uint64(fb[bufs+16*i:]))
		ln := int64(binary.LittleEndian.Uint64(fb[bufs+16*i+8:]))
		if off < 0 || ln < 0 || off > b.body || ln > b.body-off {
			return fmt.Errorf("buffer %d (offset %d, %d bytes) outside the %d-byte body", i, off, ln, b.body)
		}
		if !compressed || ln == 0 {
			continue
		}
		if ln < 8 {
			return fmt.Errorf("compressed buffer %d shorter than its length prefix", i)
		}
		var size [8]byte
		if _, err := f.ReadAt(size[:], b.off+b.meta+off); err != nil {
			return err
		}
		u := int64(binary.LittleEndian.Uint64(size[:]))
		if u == -1 {
			continue // stored uncompressed
		}
		total += u
		if u < 0 || u > maxUncompressedBuffer || total > maxUncompressedBatch {
			return fmt.Errorf("compressed buffer %d declares %d bytes uncompressed", i, u)
		}
	}
	return nil
}
