package shards

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Batch checksums. The Writer stores, with every record batch, a CRC-32C of the batch's content
// in the batch's own IPC metadata (MetaBatchCRC32C, 8 hex digits), and marks the file's schema
// with MetaChecksum. Readers of the Arrow format ignore both, so any Arrow reader (and wit before
// checksums) reads new shards as before; a shard written before them has neither and reads as
// "no checksums". File.Batch checks the checksum of every batch that has one.
//
// The CRC covers the values as a reader sees them, not the bytes of the file: the row count, then
// per column its validity and its values (fixed-width values as stored, the length of each
// variable-length value and its bytes, list lengths and their elements). So it does not depend on
// how a writer laid the buffers out (slices, padding), and any change of a value — a flipped byte
// in an image, a URL, an offset that moves a boundary, a validity bit — gives another CRC: one
// changed byte, or a burst of up to 32 changed bits, always (CRC-32C's guarantee), anything else
// with a chance of 1 in 2^32 of passing. Bytes no reader looks at (padding, the unused tail of a
// buffer) are not covered: changing them changes no data.

// Metadata keys of the checksums.
const (
	MetaChecksum     = "wit.checksum"      // schema: "crc32c-v1" when every batch of the file carries MetaBatchCRC32C
	MetaBatchCRC32C  = "wit.crc32c"        // batch: CRC-32C of the batch's content, 8 lower-case hex digits
	MetaSchemaCRC32C = "wit.schema_crc32c" // schema: CRC-32C of the schema itself (fields, types, metadata)
	checksumVersion  = "crc32c-v1"
)

// ErrChecksum marks a batch whose content does not match the checksum written with it (or that
// lacks one in a file whose batches all have one). Errors wrapping it wrap ErrCorrupt too.
var ErrChecksum = errors.New("checksum mismatch")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchChecksum returns the CRC-32C of rec's content (see above).
func BatchChecksum(rec arrow.RecordBatch) uint32 {
	h := &crcHasher{}
	h.u64(uint64(rec.NumRows()))
	for _, col := range rec.Columns() {
		h.array(col)
	}
	return h.crc
}

type crcHasher struct {
	crc     uint32
	scratch []byte
}

func (h *crcHasher) write(p []byte) { h.crc = crc32.Update(h.crc, castagnoli, p) }

func (h *crcHasher) u64(v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	h.write(b[:])
}

// lengths hashes n lengths given by at(i) as 8-byte integers in one write.
func (h *crcHasher) lengths(n int, at func(i int) int64) {
	h.scratch = h.scratch[:0]
	for i := range n {
		h.scratch = binary.LittleEndian.AppendUint64(h.scratch, uint64(at(i)))
	}
	h.write(h.scratch)
}

// validity hashes which rows are null: a 0 byte when none is, else 1 and one byte per row.
func (h *crcHasher) validity(a arrow.Array) {
	n := a.Len()
	if len(a.NullBitmapBytes()) == 0 {
		h.write([]byte{0})
		return
	}
	h.scratch = h.scratch[:0]
	all := true
	for i := range n {
		v := byte(0)
		if a.IsValid(i) {
			v = 1
		} else {
			all = false
		}
		h.scratch = append(h.scratch, v)
	}
	if all { // a builder's bitmap of all ones reads back as no bitmap: the same content
		h.write([]byte{0})
		return
	}
	h.write([]byte{1})
	h.write(h.scratch)
}

func (h *crcHasher) array(a arrow.Array) {
	n := a.Len()
	h.u64(uint64(n))
	h.validity(a)
	if n == 0 {
		return
	}
	switch c := a.(type) {
	case *array.Null:
	case *array.Boolean:
		h.scratch = h.scratch[:0]
		for i := range n {
			v := byte(0)
			if c.Value(i) {
				v = 1
			}
			h.scratch = append(h.scratch, v)
		}
		h.write(h.scratch)
	case *array.String:
		offs := c.ValueOffsets()
		h.lengths(n, func(i int) int64 { return int64(offs[i+1] - offs[i]) })
		h.write(c.ValueBytes())
	case *array.Binary:
		offs := c.ValueOffsets()
		h.lengths(n, func(i int) int64 { return int64(offs[i+1] - offs[i]) })
		h.write(c.ValueBytes())
	case *array.LargeString:
		offs := c.ValueOffsets()
		h.lengths(n, func(i int) int64 { return offs[i+1] - offs[i] })
		h.write(c.ValueBytes())
	case *array.LargeBinary:
		offs := c.ValueOffsets()
		h.lengths(n, func(i int) int64 { return offs[i+1] - offs[i] })
		h.write(c.ValueBytes())
	case *array.List:
		h.list(n, c.ValueOffsets, c.ListValues())
	case *array.LargeList:
		h.list(n, c.ValueOffsets, c.ListValues())
	case *array.FixedSizeList:
		size := int64(c.DataType().(*arrow.FixedSizeListType).Len())
		off := int64(c.Data().Offset())
		h.slice(c.ListValues(), off*size, (off+int64(n))*size)
	default:
		if fw, ok := a.DataType().(arrow.FixedWidthDataType); ok && fw.BitWidth()%8 == 0 && len(a.Data().Buffers()) > 1 && a.Data().Buffers()[1] != nil {
			w := fw.BitWidth() / 8
			off := a.Data().Offset()
			h.write(a.Data().Buffers()[1].Bytes()[off*w : (off+n)*w])
			return
		}
		// Anything else (structs, dictionaries, ...): the value's text, slower but exact.
		for i := range n {
			s := a.ValueStr(i)
			h.u64(uint64(len(s)))
			h.write([]byte(s))
		}
	}
}

func (h *crcHasher) list(n int, offsets func(i int) (int64, int64), values arrow.Array) {
	first, _ := offsets(0)
	_, last := offsets(n - 1)
	h.lengths(n, func(i int) int64 { s, e := offsets(i); return e - s })
	h.slice(values, first, last)
}

func (h *crcHasher) slice(values arrow.Array, from, to int64) {
	part := array.NewSlice(values, from, to)
	defer part.Release()
	h.array(part)
}

// withChecksum returns rec with its checksum in its metadata (the caller releases it).
func withChecksum(rec arrow.RecordBatch) arrow.RecordBatch {
	md := arrow.NewMetadata([]string{MetaBatchCRC32C}, []string{fmt.Sprintf("%08x", BatchChecksum(rec))})
	return array.NewRecordBatchWithMetadata(rec.Schema(), rec.Columns(), rec.NumRows(), md)
}

// storedChecksum returns the checksum stored with rec, if any.
func storedChecksum(rec arrow.RecordBatch) (sum uint32, ok bool, err error) {
	rm, isMeta := rec.(arrow.RecordBatchWithMetadata)
	if !isMeta {
		return 0, false, nil
	}
	md := rm.Metadata()
	i := md.FindKey(MetaBatchCRC32C)
	if i < 0 {
		return 0, false, nil
	}
	v := md.Values()[i]
	n, perr := strconv.ParseUint(v, 16, 32)
	if perr != nil || len(v) != 8 {
		return 0, true, fmt.Errorf("%w: %w: stored checksum %q is not 8 hex digits", ErrCorrupt, ErrChecksum, v)
	}
	return uint32(n), true, nil
}

// SchemaChecksum returns the CRC-32C of a schema's fields (names, types, nullability, metadata)
// and metadata, MetaSchemaCRC32C excluded: the column names and types readers go by, which the
// batch checksums do not cover.
func SchemaChecksum(s *arrow.Schema) uint32 {
	h := &crcHasher{}
	str := func(v string) {
		h.u64(uint64(len(v)))
		h.write([]byte(v))
	}
	meta := func(md arrow.Metadata) {
		keys, vals := md.Keys(), md.Values()
		idx := make([]int, 0, len(keys))
		for i, k := range keys {
			if k != MetaSchemaCRC32C {
				idx = append(idx, i)
			}
		}
		slices.SortFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
		h.u64(uint64(len(idx)))
		for _, i := range idx {
			str(keys[i])
			str(vals[i])
		}
	}
	h.u64(uint64(s.NumFields()))
	for _, f := range s.Fields() {
		str(f.Name)
		str(f.Type.String())
		str(strconv.FormatBool(f.Nullable))
		meta(f.Metadata)
	}
	meta(s.Metadata())
	return h.crc
}

// checkSchema compares a file's schema with the checksum stored in it, if any.
func checkSchemaChecksum(s *arrow.Schema) error {
	md := s.Metadata()
	i := md.FindKey(MetaSchemaCRC32C)
	if i < 0 {
		if hasChecksums(s) {
			return fmt.Errorf("%w: %w: the schema has no checksum, though its batches have", ErrCorrupt, ErrChecksum)
		}
		return nil
	}
	want, err := strconv.ParseUint(md.Values()[i], 16, 32)
	if err != nil || len(md.Values()[i]) != 8 {
		return fmt.Errorf("%w: %w: stored schema checksum %q is not 8 hex digits", ErrCorrupt, ErrChecksum, md.Values()[i])
	}
	if got := SchemaChecksum(s); got != uint32(want) {
		return fmt.Errorf("%w: %w: schema CRC-32C %08x, stored %08x", ErrCorrupt, ErrChecksum, got, want)
	}
	return nil
}

// hasChecksums reports whether a file's schema says every batch carries a checksum.
func hasChecksums(s *arrow.Schema) bool {
	md := s.Metadata()
	i := md.FindKey(MetaChecksum)
	return i >= 0 && md.Values()[i] == checksumVersion
}

// checkBatch compares rec with its stored checksum. present reports whether it had one; a file
// whose schema promises checksums must have one in every batch.
func checkBatch(rec arrow.RecordBatch, fileHasChecksums bool) (present bool, err error) {
	want, ok, err := storedChecksum(rec)
	if err != nil {
		return true, err
	}
	if !ok {
		if fileHasChecksums {
			return false, fmt.Errorf("%w: %w: no checksum, though the file's schema says every batch has one", ErrCorrupt, ErrChecksum)
		}
		return false, nil
	}
	if got := BatchChecksum(rec); got != want {
		return true, fmt.Errorf("%w: %w: content CRC-32C %08x, stored %08x", ErrCorrupt, ErrChecksum, got, want)
	}
	return true, nil
}
