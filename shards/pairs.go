package shards

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Column names of pair files. Later stages and outside readers rely on them.
const (
	ColPageURL       = "page_url"       // absolute URL of the page the pair was found on
	ColImageURL      = "image_url"      // absolute, normalised http(s) URL of the image
	ColCaption       = "caption"        // caption text: entities decoded, whitespace normalised, UTF-8
	ColCaptionSource = "caption_source" // where the caption came from: alt, title, figcaption, og, mediawiki, wordpress, doc_figure, aria_label, aria_describedby (see crawl/extract)
	ColPageLang      = "page_lang"      // the page's <html lang>, lower-cased; empty when absent
	ColFetchedAt     = "fetched_at"     // when the page was fetched (UTC, milliseconds)
)

// Caption sources.
const (
	SourceAlt        = "alt"
	SourceTitle      = "title"
	SourceFigcaption = "figcaption"
	SourceOG         = "og"
)

// PairSchema is the schema of the crawler's pair files.
var PairSchema = arrow.NewSchema([]arrow.Field{
	{Name: ColPageURL, Type: arrow.BinaryTypes.String},
	{Name: ColImageURL, Type: arrow.BinaryTypes.String},
	{Name: ColCaption, Type: arrow.BinaryTypes.String},
	{Name: ColCaptionSource, Type: arrow.BinaryTypes.String},
	{Name: ColPageLang, Type: arrow.BinaryTypes.String},
	{Name: ColFetchedAt, Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
}, nil)

// Pair is one candidate (image URL, caption) pair found on a page.
type Pair struct {
	PageURL       string
	ImageURL      string
	Caption       string
	CaptionSource string
	PageLang      string
	FetchedAt     time.Time
}

// AppendPair appends p as one row to a builder made from PairSchema.
func AppendPair(b *array.RecordBuilder, p Pair) {
	b.Field(0).(*array.StringBuilder).Append(p.PageURL)
	b.Field(1).(*array.StringBuilder).Append(p.ImageURL)
	b.Field(2).(*array.StringBuilder).Append(p.Caption)
	b.Field(3).(*array.StringBuilder).Append(p.CaptionSource)
	b.Field(4).(*array.StringBuilder).Append(p.PageLang)
	b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(p.FetchedAt.UTC().UnixMilli()))
}

// Pairs decodes the rows of a batch with PairSchema's columns (by name, in any order).
func Pairs(rec arrow.RecordBatch) ([]Pair, error) {
	s := rec.Schema()
	col := func(name string) (*array.String, error) {
		idx := s.FieldIndices(name)
		if len(idx) == 0 {
			return nil, &MissingColumnError{Name: name}
		}
		c, ok := rec.Column(idx[0]).(*array.String)
		if !ok {
			return nil, &MissingColumnError{Name: name, Type: rec.Column(idx[0]).DataType().String()}
		}
		return c, nil
	}
	var cols [5]*array.String
	for i, name := range []string{ColPageURL, ColImageURL, ColCaption, ColCaptionSource, ColPageLang} {
		c, err := col(name)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	var ts *array.Timestamp
	if idx := s.FieldIndices(ColFetchedAt); len(idx) > 0 {
		ts, _ = rec.Column(idx[0]).(*array.Timestamp)
	}
	out := make([]Pair, rec.NumRows())
	for i := range out {
		out[i] = Pair{
			PageURL:       cols[0].Value(i),
			ImageURL:      cols[1].Value(i),
			Caption:       cols[2].Value(i),
			CaptionSource: cols[3].Value(i),
			PageLang:      cols[4].Value(i),
		}
		if ts != nil && ts.IsValid(i) {
			out[i].FetchedAt = time.UnixMilli(int64(ts.Value(i))).UTC()
		}
	}
	return out, nil
}

// MissingColumnError reports a column that a reader needs and a file lacks (or has with another type).
type MissingColumnError struct {
	Name string
	Type string
}

func (e *MissingColumnError) Error() string {
	if e.Type != "" {
		return "shards: column " + e.Name + " has type " + e.Type + ", want utf8"
	}
	return "shards: missing column " + e.Name
}
