package view

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"image/jpeg"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/witdata/wit/shards"
)

// Sample is what the grid shows of one row: an image sample (fetch's shards) or a pair (crawl's
// and filter's files, without an image).
type Sample struct {
	Row            int64    `json:"row"`  // position in the dataset, in file order
	Key            string   `json:"key"`  // the key column, or "FFFFFRRRR" (file number, row in file) when there is none
	File           string   `json:"file"` // shard file name
	Caption        string   `json:"caption"`
	PageURL        string   `json:"page_url,omitempty"`
	ImageURL       string   `json:"image_url,omitempty"` // where the image was (or would be) downloaded from
	CaptionSource  string   `json:"caption_source,omitempty"`
	Language       string   `json:"language,omitempty"` // the filter's language, or the page's <html lang> for raw pairs
	Queries        []string `json:"matched_queries,omitempty"`
	Width          int      `json:"width,omitempty"` // of the stored image
	Height         int      `json:"height,omitempty"`
	OriginalWidth  int      `json:"original_width,omitempty"`
	OriginalHeight int      `json:"original_height,omitempty"`
	HasImage       bool     `json:"has_image"`
}

// Column is one column value of a row as the detail page shows it.
type Column struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// rowColumns gives typed access to the columns the viewer knows, looked up by name once per batch.
// A column that is missing, or present with another type, is nil: the viewer shows what it can
// (every column still appears, formatted generically, on the detail page).
type rowColumns struct {
	rec                                  arrow.RecordBatch
	key, caption, url, imageURL, pageURL *array.String
	source, language, pageLang           *array.String
	image                                *array.Binary
	width, height, origWidth, origHeight *array.Int32
	phash                                *array.Uint64
	queries                              *array.List
	queryValues                          *array.String
}

func bindColumns(rec arrow.RecordBatch) *rowColumns {
	c := &rowColumns{rec: rec}
	s := rec.Schema()
	col := func(name string) arrow.Array {
		if idx := s.FieldIndices(name); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	str := func(name string) *array.String { a, _ := col(name).(*array.String); return a }
	i32 := func(name string) *array.Int32 { a, _ := col(name).(*array.Int32); return a }
	c.key = str(shards.ColKey)
	c.caption = str(shards.ColCaption)
	c.url = str(shards.ColURL)
	c.imageURL = str(shards.ColImageURL)
	c.pageURL = str(shards.ColPageURL)
	c.source = str(shards.ColCaptionSource)
	c.language = str(shards.ColLanguage)
	c.pageLang = str(shards.ColPageLang)
	c.image, _ = col(shards.ColImage).(*array.Binary)
	c.width, c.height = i32(shards.ColWidth), i32(shards.ColHeight)
	c.origWidth, c.origHeight = i32(shards.ColOriginalWidth), i32(shards.ColOriginalHeight)
	c.phash, _ = col(shards.ColPHash).(*array.Uint64)
	if l, ok := col(shards.ColMatchedQueries).(*array.List); ok {
		if v, ok := l.ListValues().(*array.String); ok {
			c.queries, c.queryValues = l, v
		}
	}
	return c
}

func (c *rowColumns) len() int { return int(c.rec.NumRows()) }

// str reads row i of a string column; a missing column or a null reads as "". The string shares
// the batch's memory: clone it to keep it.
func str(a *array.String, i int) string {
	if a == nil || a.IsNull(i) {
		return ""
	}
	return a.Value(i)
}

func i32(a *array.Int32, i int) int {
	if a == nil || a.IsNull(i) {
		return 0
	}
	return int(a.Value(i))
}

func (c *rowColumns) captionAt(i int) string { return str(c.caption, i) }

// languageAt is the filter's language, or the page's language for pairs not yet filtered.
func (c *rowColumns) languageAt(i int) string {
	if c.language != nil {
		return str(c.language, i)
	}
	return str(c.pageLang, i)
}

func (c *rowColumns) imageAt(i int) []byte {
	if c.image == nil || c.image.IsNull(i) {
		return nil
	}
	return c.image.Value(i)
}

func (c *rowColumns) phashAt(i int) uint64 {
	if c.phash == nil || c.phash.IsNull(i) {
		return 0
	}
	return c.phash.Value(i)
}

// eachQuery calls fn with each matched query of row i (strings share the batch's memory).
func (c *rowColumns) eachQuery(i int, fn func(q string) bool) {
	if c.queries == nil || c.queries.IsNull(i) {
		return
	}
	start, end := c.queries.ValueOffsets(i)
	for k := start; k < end; k++ {
		if !fn(c.queryValues.Value(int(k))) {
			return
		}
	}
}

// sample copies row i into a Sample (row, key and file are set by the caller).
func (c *rowColumns) sample(i int) Sample {
	s := Sample{
		Caption:        strings.Clone(c.captionAt(i)),
		PageURL:        strings.Clone(str(c.pageURL, i)),
		ImageURL:       strings.Clone(str(c.url, i)),
		CaptionSource:  strings.Clone(str(c.source, i)),
		Language:       strings.Clone(c.languageAt(i)),
		Width:          i32(c.width, i),
		Height:         i32(c.height, i),
		OriginalWidth:  i32(c.origWidth, i),
		OriginalHeight: i32(c.origHeight, i),
		HasImage:       len(c.imageAt(i)) > 0,
	}
	if s.ImageURL == "" {
		s.ImageURL = strings.Clone(str(c.imageURL, i))
	}
	c.eachQuery(i, func(q string) bool {
		s.Queries = append(s.Queries, strings.Clone(q))
		return true
	})
	return s
}

// maxCellChars bounds a string shown on the detail page (captions are far shorter; a foreign
// file could hold anything).
const maxCellChars = 20000

// columnsOf formats every column of row i for the detail page. Binary values are described, never
// shown; the phash is shown in hex as well.
func columnsOf(rec arrow.RecordBatch, i int) []Column {
	out := make([]Column, 0, rec.NumCols())
	for j, f := range rec.Schema().Fields() {
		out = append(out, Column{Name: f.Name, Type: f.Type.String(), Value: formatValue(rec.Column(j), i)})
	}
	return out
}

func formatValue(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return "null"
	}
	switch c := col.(type) {
	case *array.String:
		return truncateRunes(c.Value(i), maxCellChars)
	case *array.LargeString:
		return truncateRunes(c.Value(i), maxCellChars)
	case *array.Binary:
		return describeBinary(c.Value(i))
	case *array.LargeBinary:
		return describeBinary(c.Value(i))
	case *array.Uint64:
		v := c.Value(i)
		return fmt.Sprintf("%d (0x%016x)", v, v)
	case *array.Timestamp:
		unit := c.DataType().(*arrow.TimestampType).Unit
		return c.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano)
	case *array.List:
		start, end := c.ValueOffsets(i)
		parts := make([]string, 0, min(end-start, 100))
		for k := start; k < end && k < start+100; k++ {
			parts = append(parts, formatValue(c.ListValues(), int(k)))
		}
		if end-start > 100 {
			parts = append(parts, fmt.Sprintf("… %d more", end-start-100))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *array.FixedSizeList:
		return fmt.Sprintf("<%s>", c.DataType())
	default:
		return truncateRunes(col.ValueStr(i), maxCellChars)
	}
}

func describeBinary(b []byte) string {
	if len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 {
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(b)); err == nil {
			return fmt.Sprintf("<%d bytes, JPEG %d×%d>", len(b), cfg.Width, cfg.Height)
		}
		return fmt.Sprintf("<%d bytes, JPEG with a bad header>", len(b))
	}
	if len(b) <= 32 {
		return "0x" + hex.EncodeToString(b)
	}
	return "<" + strconv.Itoa(len(b)) + " bytes>"
}

func truncateRunes(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
