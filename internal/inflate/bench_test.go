package inflate

import (
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/witdata/wit/internal/testutil"
)

// BenchmarkGzip decodes real HTML pages (WIT_BENCH_HTML_DIR, see scripts/bench-extract-data.sh;
// else the extractor's test pages), each a gzip member at Go's default level as wit's WARC writer
// makes them, with this package and, alternating op by op on the same members, with
// klauspost/compress's and the standard library's streaming readers (Reset per member, as the
// warc reader uses them). ratio-klauspost is klauspost's time over this package's.
func BenchmarkGzip(b *testing.B) {
	pages := testutil.LoadHTMLPages(b, "../../crawl/extract/testdata")
	var members [][]byte
	var raw int
	for _, p := range pages {
		var z bytes.Buffer
		zw := stdgzip.NewWriter(&z)
		zw.Write(p.Body)
		zw.Close()
		members = append(members, z.Bytes())
		raw += len(p.Body)
	}
	var d Decompressor
	out := make([]byte, 4<<20)
	src := bytes.NewReader(nil)
	var kz kgzip.Reader
	var sz stdgzip.Reader
	var ours, klaus, std time.Duration
	drain := func(r io.Reader) {
		for {
			if _, err := r.Read(out); err == io.EOF {
				return
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
	// streaming times a streaming reader over every member.
	streaming := func(zr interface {
		io.Reader
		Reset(io.Reader) error
		Multistream(bool)
	}) time.Duration {
		t := time.Now()
		for _, m := range members {
			src.Reset(m)
			if err := zr.Reset(src); err != nil {
				b.Fatal(err)
			}
			zr.Multistream(false)
			drain(zr)
		}
		return time.Since(t)
	}
	for b.Loop() {
		t := time.Now()
		for _, m := range members {
			if _, _, err := d.Gzip(m, out); err != nil {
				b.Fatal(err)
			}
		}
		ours += time.Since(t)

		klaus += streaming(&kz)
		std += streaming(&sz)
	}
	n := float64(b.N)
	b.ReportMetric(n*float64(raw)/ours.Seconds()/1e6, "MB/s")
	b.ReportMetric(ours.Seconds()*1e6/n/float64(len(members)), "µs/member")
	b.ReportMetric(n*float64(raw)/klaus.Seconds()/1e6, "klauspost-MB/s")
	b.ReportMetric(n*float64(raw)/std.Seconds()/1e6, "stdlib-MB/s")
	b.ReportMetric(klaus.Seconds()/ours.Seconds(), "ratio-klauspost")
	b.ReportMetric(float64(raw)/float64(len(members)), "bytes/member")
}
