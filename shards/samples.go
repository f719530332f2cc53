package shards

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Column names of image sample shards (the output of fetch, the input of the trainer). They are a
// public contract: exporters and outside readers (pyarrow, DuckDB) rely on them. caption, page_url
// and caption_source reuse the pair column names (ColCaption, ColPageURL, ColCaptionSource).
const (
	ColKey            = "key"             // img2dataset key: 5-digit shard number + 4-digit row index, e.g. "000120042"
	ColImage          = "image"           // the processed image, JPEG bytes
	ColURL            = "url"             // where the original image was downloaded from
	ColWidth          = "width"           // width of the stored JPEG
	ColHeight         = "height"          // height of the stored JPEG
	ColOriginalWidth  = "original_width"  // width of the original as displayed (EXIF orientation applied)
	ColOriginalHeight = "original_height" // height of the original as displayed
	ColSHA256         = "sha256"          // lower-case hex SHA-256 of the original (downloaded) bytes
	ColPHash          = "phash"           // 64-bit perceptual hash of the image (near-duplicate detection)
	ColMatchedQueries = "matched_queries" // query-list entries the caption matched (empty for URL lists)
	ColLanguage       = "language"        // caption language code from the filter ("" when unknown)
)

// SchemaVersion is the version of SampleSchema, recorded in manifest.json and in every file's
// schema metadata under MetaSchemaVersion. It changes when a column is renamed, removed or retyped.
const SchemaVersion = 1

// Schema metadata keys written into every sample shard.
const (
	MetaSchemaVersion = "wit.schema_version"
	MetaKind          = "wit.kind" // "samples"
)

// SampleSchema is the schema of image sample shards. All columns are non-null.
var SampleSchema = arrow.NewSchema([]arrow.Field{
	{Name: ColKey, Type: arrow.BinaryTypes.String},
	{Name: ColImage, Type: arrow.BinaryTypes.Binary},
	{Name: ColCaption, Type: arrow.BinaryTypes.String},
	{Name: ColURL, Type: arrow.BinaryTypes.String},
	{Name: ColPageURL, Type: arrow.BinaryTypes.String},
	{Name: ColCaptionSource, Type: arrow.BinaryTypes.String},
	{Name: ColWidth, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColHeight, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColOriginalWidth, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColOriginalHeight, Type: arrow.PrimitiveTypes.Int32},
	{Name: ColSHA256, Type: arrow.BinaryTypes.String},
	{Name: ColPHash, Type: arrow.PrimitiveTypes.Uint64},
	{Name: ColMatchedQueries, Type: arrow.ListOf(arrow.BinaryTypes.String)},
	{Name: ColLanguage, Type: arrow.BinaryTypes.String},
}, nil)

// SampleMetadata is the schema metadata fetch writes into every sample shard.
func SampleMetadata() map[string]string {
	return map[string]string{MetaSchemaVersion: strconv.Itoa(SchemaVersion), MetaKind: "samples"}
}

// Sample is one row of a sample shard.
type Sample struct {
	Key            string
	Image          []byte // JPEG
	Caption        string
	URL            string
	PageURL        string
	CaptionSource  string
	Width, Height  int
	OriginalWidth  int
	OriginalHeight int
	SHA256         string // hex
	PHash          uint64
	MatchedQueries []string
	Language       string
}

// SampleKey formats the img2dataset key of row index in shard: the shard number on 5 digits and
// the row on 4 (more digits only when a shard holds more than 10,000 rows or there are more than
// 99,999 shards, so keys stay unique and sort in file order within one dataset).
func SampleKey(shard, index int) string {
	var b [24]byte
	out := appendPadded(b[:0], shard, 5)
	out = appendPadded(out, index, 4)
	return string(out)
}

func appendPadded(dst []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// AppendSample appends s as one row to a builder made from SampleSchema (fields in its order).
func AppendSample(b *array.RecordBuilder, s *Sample) {
	b.Field(0).(*array.StringBuilder).Append(s.Key)
	b.Field(1).(*array.BinaryBuilder).Append(s.Image)
	b.Field(2).(*array.StringBuilder).Append(s.Caption)
	b.Field(3).(*array.StringBuilder).Append(s.URL)
	b.Field(4).(*array.StringBuilder).Append(s.PageURL)
	b.Field(5).(*array.StringBuilder).Append(s.CaptionSource)
	b.Field(6).(*array.Int32Builder).Append(int32(s.Width))
	b.Field(7).(*array.Int32Builder).Append(int32(s.Height))
	b.Field(8).(*array.Int32Builder).Append(int32(s.OriginalWidth))
	b.Field(9).(*array.Int32Builder).Append(int32(s.OriginalHeight))
	b.Field(10).(*array.StringBuilder).Append(s.SHA256)
	b.Field(11).(*array.Uint64Builder).Append(s.PHash)
	lb := b.Field(12).(*array.ListBuilder)
	lb.Append(true)
	vb := lb.ValueBuilder().(*array.StringBuilder)
	for _, q := range s.MatchedQueries {
		vb.Append(q)
	}
	b.Field(13).(*array.StringBuilder).Append(s.Language)
}

// SampleColumns gives typed access to the columns of a sample batch, looked up by name once.
// Columns missing from a projected batch are nil and read as zero values.
type SampleColumns struct {
	rec                                            arrow.RecordBatch
	key, caption, url, pageURL, captionSrc, sha256 *array.String
	language                                       *array.String
	image                                          *array.Binary
	width, height, origWidth, origHeight           *array.Int32
	phash                                          *array.Uint64
	queries                                        *array.List
	queryValues                                    *array.String
}

// NewSampleColumns resolves the sample columns of rec by name. A column present with the wrong
// type is an error that wraps ErrCorrupt.
func NewSampleColumns(rec arrow.RecordBatch) (*SampleColumns, error) {
	c := &SampleColumns{rec: rec}
	s := rec.Schema()
	var err error
	bind := func(name string, dst any) {
		if err != nil {
			return
		}
		idx := s.FieldIndices(name)
		if len(idx) == 0 {
			return
		}
		col := rec.Column(idx[0])
		ok := false
		switch d := dst.(type) {
		case **array.String:
			*d, ok = col.(*array.String)
		case **array.Binary:
			*d, ok = col.(*array.Binary)
		case **array.Int32:
			*d, ok = col.(*array.Int32)
		case **array.Uint64:
			*d, ok = col.(*array.Uint64)
		case **array.List:
			*d, ok = col.(*array.List)
		}
		if !ok {
			err = fmt.Errorf("shards: column %s has type %s: %w", name, col.DataType(), ErrCorrupt)
		}
	}
	bind(ColKey, &c.key)
	bind(ColImage, &c.image)
	bind(ColCaption, &c.caption)
	bind(ColURL, &c.url)
	bind(ColPageURL, &c.pageURL)
	bind(ColCaptionSource, &c.captionSrc)
	bind(ColWidth, &c.width)
	bind(ColHeight, &c.height)
	bind(ColOriginalWidth, &c.origWidth)
	bind(ColOriginalHeight, &c.origHeight)
	bind(ColSHA256, &c.sha256)
	bind(ColPHash, &c.phash)
	bind(ColMatchedQueries, &c.queries)
	bind(ColLanguage, &c.language)
	if err != nil {
		return nil, err
	}
	if c.queries != nil {
		v, ok := c.queries.ListValues().(*array.String)
		if !ok {
			return nil, fmt.Errorf("shards: column %s has type %s: %w", ColMatchedQueries, c.queries.DataType(), ErrCorrupt)
		}
		c.queryValues = v
	}
	return c, nil
}

// Len returns the number of rows.
func (c *SampleColumns) Len() int { return int(c.rec.NumRows()) }

// Image returns row i's JPEG bytes without copying; they are valid while the batch is.
func (c *SampleColumns) Image(i int) []byte {
	if c.image == nil {
		return nil
	}
	return c.image.Value(i)
}

// Sample returns row i as a Sample. Strings and the image are copied, so the result outlives the
// batch.
func (c *SampleColumns) Sample(i int) *Sample {
	str := func(a *array.String) string {
		if a == nil || a.IsNull(i) {
			return ""
		}
		return strings.Clone(a.Value(i))
	}
	i32 := func(a *array.Int32) int {
		if a == nil || a.IsNull(i) {
			return 0
		}
		return int(a.Value(i))
	}
	s := &Sample{
		Key:            str(c.key),
		Caption:        str(c.caption),
		URL:            str(c.url),
		PageURL:        str(c.pageURL),
		CaptionSource:  str(c.captionSrc),
		Width:          i32(c.width),
		Height:         i32(c.height),
		OriginalWidth:  i32(c.origWidth),
		OriginalHeight: i32(c.origHeight),
		SHA256:         str(c.sha256),
		Language:       str(c.language),
	}
	if c.image != nil && c.image.IsValid(i) {
		s.Image = bytes.Clone(c.image.Value(i))
	}
	if c.phash != nil && c.phash.IsValid(i) {
		s.PHash = c.phash.Value(i)
	}
	if c.queries != nil && c.queries.IsValid(i) {
		start, end := c.queries.ValueOffsets(i)
		if end > start {
			s.MatchedQueries = make([]string, 0, end-start)
			for j := start; j < end; j++ {
				s.MatchedQueries = append(s.MatchedQueries, strings.Clone(c.queryValues.Value(int(j))))
			}
		}
	}
	return s
}

// SampleAt decodes row i of a sample batch (columns found by name; missing ones read as zero
// values). For many rows of one batch, NewSampleColumns avoids repeating the column lookup.
func SampleAt(rec arrow.RecordBatch, i int) (*Sample, error) {
	if i < 0 || int64(i) >= rec.NumRows() {
		return nil, fmt.Errorf("shards: row %d out of range [0, %d)", i, rec.NumRows())
	}
	c, err := NewSampleColumns(rec)
	if err != nil {
		return nil, err
	}
	return c.Sample(i), nil
}
