package view

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/witdata/wit/shards"
)

// indexVersion changes whenever the cached index's layout or meaning changes; an index of another
// version is rebuilt.
const indexVersion = 1

// indexFile is the name of the cached index in the cache directory: the xxhash64 of the rest
// (8 bytes, little-endian), then the index as a gob.
const indexFile = "index-v1.gob"

// fileEntry is one shard file as the index saw it. Size and ModTime identify the file's content:
// the index is rebuilt when any file's differ, or files come or go.
type fileEntry struct {
	Name    string
	Number  int // NNNNN of NNNNN.arrow
	Size    int64
	ModTime int64 // unix nanoseconds
	First   int64 // dataset row of the file's first row
	// Batches[b] is the first row (within the file) of record batch b; the last element is the
	// file's row count.
	Batches []int64
}

func (f *fileEntry) rows() int64 { return f.Batches[len(f.Batches)-1] }

// index is what one pass over the shards learns: where every row is (file, batch, row), its key and
// pHash, and the dataset's distributions (ScanStats). It is cached beside the shards.
type index struct {
	Version int
	Kind    string // shards.KindSamples, KindPairs or KindOther (of the first file)
	Columns []string
	Files   []fileEntry
	Rows    int64
	// Keys holds every row's key back to back, KeyEnds[r] the end of row r's; both are nil when no
	// file has a key column (the key is then "FFFFFRRRR", see syntheticKey).
	Keys     []byte
	KeyEnds  []uint32
	KeyOrder []uint32 // rows sorted by key, for lookups
	PHash    []uint64 // nil when no file has a phash column
	Stats    ScanStats
}

// stamp is a shard file's identity for cache invalidation.
type stamp struct {
	Name    string
	Size    int64
	ModTime int64
}

// stampFiles lists dir's committed shard files with their sizes and modification times.
func stampFiles(dir string) ([]stamp, error) {
	paths, err := shards.ListFiles(dir)
	if err != nil {
		return nil, err
	}
	out := make([]stamp, 0, len(paths))
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("view: %w", err)
		}
		out = append(out, stamp{Name: filepath.Base(p), Size: st.Size(), ModTime: st.ModTime().UnixNano()})
	}
	return out, nil
}

// matches reports whether the index was built from exactly these files.
func (x *index) matches(files []stamp) bool {
	if x.Version != indexVersion || len(x.Files) != len(files) {
		return false
	}
	for i, f := range files {
		e := x.Files[i]
		if e.Name != f.Name || e.Size != f.Size || e.ModTime != f.ModTime {
			return false
		}
	}
	return true
}

// syntheticKey is the key of a row in a file without a key column: the file number on 5 digits and
// the row on 4, as img2dataset and fetch number samples.
func syntheticKey(fileNumber int, row int64) string { return shards.SampleKey(fileNumber, int(row)) }

// progressEvery is how often long passes print a progress line.
const progressEvery = 2 * time.Second

// buildIndex reads every batch of every file once. Memory: one batch, plus the keys and pHashes.
func buildIndex(ctx context.Context, dir string, files []stamp, progress io.Writer) (*index, error) {
	x := &index{Version: indexVersion}
	acc := newStatsAccumulator()
	hasKeys, hasPHash := false, false
	var keys []byte
	var keyEnds []uint32
	var phash []uint64
	last := time.Now()
	for fi, st := range files {
		path := filepath.Join(dir, st.Name)
		num, _ := shards.FileIndex(st.Name)
		f, err := shards.Open(path)
		if err != nil {
			return nil, fmt.Errorf("view: index: %w", err)
		}
		if fi == 0 {
			x.Kind = shards.KindOf(f.Schema())
			for _, fl := range f.Schema().Fields() {
				x.Columns = append(x.Columns, fl.Name)
			}
		}
		e := fileEntry{Name: st.Name, Number: num, Size: st.Size, ModTime: st.ModTime, First: x.Rows, Batches: []int64{0}}
		var fileRows int64
		for b := 0; b < f.NumBatches(); b++ {
			if err := ctx.Err(); err != nil {
				f.Close()
				return nil, err
			}
			rec, err := f.Batch(b)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("view: index: %w", err)
			}
			c := bindColumns(rec)
			hasKeys = hasKeys || c.key != nil
			hasPHash = hasPHash || c.phash != nil
			for i := range c.len() {
				if c.key != nil {
					keys = append(keys, str(c.key, i)...)
				} else {
					keys = append(keys, syntheticKey(num, fileRows+int64(i))...)
				}
				keyEnds = append(keyEnds, uint32(len(keys)))
				phash = append(phash, c.phashAt(i))
				acc.add(c, i)
			}
			fileRows += rec.NumRows()
			e.Batches = append(e.Batches, fileRows)
			rec.Release()
			if progress != nil && time.Since(last) > progressEvery {
				fmt.Fprintf(progress, "view: indexing %s: file %d of %d, %d rows so far\n", dir, fi+1, len(files), x.Rows+fileRows)
				last = time.Now()
			}
		}
		f.Close()
		if len(keyEnds) > 0 && uint64(keyEnds[len(keyEnds)-1]) >= 1<<32-1<<16 {
			return nil, fmt.Errorf("view: index: keys of %s take more than 4 GB", dir)
		}
		x.Rows += fileRows
		x.Files = append(x.Files, e)
		acc.fileBytes += st.Size
	}
	if hasKeys {
		x.Keys, x.KeyEnds = keys, keyEnds
		x.KeyOrder = make([]uint32, len(keyEnds))
		for i := range x.KeyOrder {
			x.KeyOrder[i] = uint32(i)
		}
		sort.SliceStable(x.KeyOrder, func(a, b int) bool {
			return bytes.Compare(x.keyBytes(int64(x.KeyOrder[a])), x.keyBytes(int64(x.KeyOrder[b]))) < 0
		})
	}
	if hasPHash {
		x.PHash = phash
	}
	x.Stats = acc.finish(x.Kind, len(files))
	return x, nil
}

func (x *index) keyBytes(row int64) []byte {
	start := uint32(0)
	if row > 0 {
		start = x.KeyEnds[row-1]
	}
	return x.Keys[start:x.KeyEnds[row]]
}

// locate returns the file and, within it, the batch and the row of dataset row r.
func (x *index) locate(r int64) (fi, batch int, row int64, ok bool) {
	if r < 0 || r >= x.Rows {
		return 0, 0, 0, false
	}
	fi = sort.Search(len(x.Files), func(i int) bool { return x.Files[i].First > r }) - 1
	f := &x.Files[fi]
	inFile := r - f.First
	batch = sort.Search(len(f.Batches), func(i int) bool { return f.Batches[i] > inFile }) - 1
	return fi, batch, inFile - f.Batches[batch], true
}

// key returns row r's key.
func (x *index) key(r int64) string {
	if x.Keys != nil {
		return string(x.keyBytes(r))
	}
	fi, _, _, ok := x.locate(r)
	if !ok {
		return ""
	}
	return syntheticKey(x.Files[fi].Number, r-x.Files[fi].First)
}

// lookup finds the row of a key (the first one, should a key repeat).
func (x *index) lookup(key string) (int64, bool) {
	if x.Keys != nil {
		i := sort.Search(len(x.KeyOrder), func(i int) bool {
			return string(x.keyBytes(int64(x.KeyOrder[i]))) >= key
		})
		if i < len(x.KeyOrder) && string(x.keyBytes(int64(x.KeyOrder[i]))) == key {
			return int64(x.KeyOrder[i]), true
		}
		return 0, false
	}
	// "FFFFFRRRR": the file number on 5 digits (more past 99999), then the row on 4 (more past 9999).
	// Only the canonical spelling is accepted, so every row has exactly one key.
	for _, f := range x.Files {
		prefix := shards.SampleKey(f.Number, 0)
		prefix = prefix[:len(prefix)-4]
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok || len(rest) < 4 || len(rest) > 12 || strings.Trim(rest, "0123456789") != "" {
			continue
		}
		row, _ := strconv.ParseInt(rest, 10, 64)
		if row < f.rows() && syntheticKey(f.Number, row) == key {
			return f.First + row, true
		}
	}
	return 0, false
}

// loadIndex reads a cached index; a missing, foreign or stale one gives errStaleCache.
func loadIndex(path string, files []stamp) (*index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errStaleCache
		}
		return nil, fmt.Errorf("view: %w", err)
	}
	// The file is the gob's xxhash, then the gob: a damaged file is caught before gob reads lengths
	// from it (a damaged length can make it allocate up to a gigabyte).
	if len(data) < 8 || binary.LittleEndian.Uint64(data) != xxhash.Sum64(data[8:]) {
		return nil, fmt.Errorf("%w: %s: checksum mismatch", errStaleCache, path)
	}
	var x index
	if err := gob.NewDecoder(bytes.NewReader(data[8:])).Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errStaleCache, path, err)
	}
	if !x.matches(files) || !x.consistent() {
		return nil, errStaleCache
	}
	return &x, nil
}

// consistent checks what later lookups rely on, so a damaged cache is rebuilt rather than trusted.
func (x *index) consistent() bool {
	var rows int64
	for _, f := range x.Files {
		// A row takes at least a byte of its file: a cache claiming more rows than that is damaged.
		if f.First != rows || len(f.Batches) == 0 || f.Batches[0] != 0 || !slices.IsSorted(f.Batches) || f.rows() > f.Size {
			return false
		}
		rows += f.rows()
	}
	if rows != x.Rows {
		return false
	}
	if x.Keys != nil && (int64(len(x.KeyEnds)) != rows || int64(len(x.KeyOrder)) != rows || (rows > 0 && int(x.KeyEnds[rows-1]) != len(x.Keys))) {
		return false
	}
	if x.Keys != nil {
		prev := uint32(0)
		for _, e := range x.KeyEnds {
			if e < prev {
				return false
			}
			prev = e
		}
		for _, r := range x.KeyOrder {
			if int64(r) >= rows {
				return false
			}
		}
	}
	return x.PHash == nil || int64(len(x.PHash)) == rows
}

func (x *index) save(path string) error {
	var buf bytes.Buffer
	buf.Write(make([]byte, 8))
	if err := gob.NewEncoder(&buf).Encode(x); err != nil {
		return fmt.Errorf("view: encode index: %w", err)
	}
	data := buf.Bytes()
	binary.LittleEndian.PutUint64(data, xxhash.Sum64(data[8:]))
	return writeCacheFile(path, data)
}
