package cc

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/witdata/wit/crawl/extract"
	"github.com/witdata/wit/internal/procstat"
	"github.com/witdata/wit/internal/testutil"
	"github.com/witdata/wit/warc"
)

type benchPage = testutil.HTMLPage

// loadBenchPages reads the pages of WIT_BENCH_HTML_DIR (scripts/bench-extract-data.sh: real
// HTML documentation with images and alt text), else the extractor"s real test pages.
func loadBenchPages(b *testing.B) []benchPage {
	return testutil.LoadHTMLPages(b, "../crawl/extract/testdata")
}

// warcOf archives the pages as a crawler would (request and response records, gzip per record)
// and returns the file's path. With gzipBodies the responses carry the bodies gzipped
// (Content-Encoding: gzip), as archives keep what servers sent.
func warcOf(b *testing.B, pages []benchPage, gzipBodies bool) string {
	b.Helper()
	dir := b.TempDir()
	out, err := warc.NewDirOutput(dir, quiet)
	if err != nil {
		b.Fatal(err)
	}
	a := warc.NewArchive(out, warc.ArchiveOptions{Prefix: "bench", MaxFileBytes: 1 << 40})
	for _, p := range pages {
		body, encoding := p.Body, ""
		if gzipBodies {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(p.Body)
			zw.Close()
			body, encoding = z.Bytes(), "Content-Encoding: gzip\r\n"
		}
		head := fmt.Sprintf("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Fri, 01 Mar 2024 10:00:00 GMT\r\nContent-Type: text/html\r\n%sContent-Length: %d\r\nLast-Modified: Thu, 01 Feb 2024 10:00:00 GMT\r\nConnection: keep-alive\r\n\r\n", encoding, len(body))
		err := a.WriteExchange(&warc.Exchange{
			URL: p.URL.String(), Date: time.Unix(1709287200, 0), IP: "192.0.2.7",
			Request:       []byte("GET " + p.URL.RequestURI() + " HTTP/1.1\r\nHost: docs.example.org\r\nUser-Agent: bench\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n"),
			Response:      append([]byte(head), body...),
			PayloadOffset: len(head),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		b.Fatal(err)
	}
	return filepath.Join(dir, a.Files()[0])
}

// BenchmarkCCWARCVsExtract measures `wit cc` on a WARC file of real pages (reading, gunzip,
// record and HTTP parsing, extraction, writing the pair file, the done marker) against the
// extractor alone on the same pages, alternating op by op so both share the machine's state.
// ratio-cpu is cc's pages per CPU second over the extractor's (extract.Extract, the crawler's):
// issue 13 asks for >= 0.90. cc runs extract.Candidates (Extract without the links, which it
// follows none of), so ratio-cpu-candidates, against Candidates alone on the same pages, is the
// stricter figure: what reading the archive costs on top of exactly the extraction cc does.
func BenchmarkCCWARCVsExtract(b *testing.B) { benchCCWARC(b, false) }

// BenchmarkCCWARCGzipPayload is BenchmarkCCWARCVsExtract on an archive whose responses carry the
// pages gzipped (Content-Encoding: gzip), as archives other than Common Crawl's keep them: two
// inflates a page, the record's member and the payload.
func BenchmarkCCWARCGzipPayload(b *testing.B) { benchCCWARC(b, true) }

func benchCCWARC(b *testing.B, gzipBodies bool) {
	pages := loadBenchPages(b)
	file := warcOf(b, pages, gzipBodies)
	st, _ := os.Stat(file)
	opts := Options{Out: b.TempDir(), Logger: quiet, Format: FormatWARC}
	opts.State = filepath.Join(opts.Out, ".cc-state")
	if err := opts.validate(); err != nil {
		b.Fatal(err)
	}
	if err := prepareDirs(context.Background(), opts); err != nil {
		b.Fatal(err)
	}
	var ccCPU, exCPU, caCPU, ccWall, exWall time.Duration
	var pairs int64
	i := 0
	for b.Loop() {
		w, c := time.Now(), procstat.CPUTime()
		fs, err := ProcessFile(context.Background(), opts, Input{Name: file, Index: i})
		if err != nil {
			b.Fatal(err)
		}
		ccWall += time.Since(w)
		ccCPU += procstat.CPUTime() - c
		if fs.Outcomes[OutcomeNotResponse] != int64(len(pages))+1 || fs.Records != 2*int64(len(pages))+1 { // requests and the warcinfo
			b.Fatalf("records %v", fs.Outcomes)
		}
		pairs = fs.Pairs
		i++

		w, c = time.Now(), procstat.CPUTime()
		for _, p := range pages {
			if _, err := extract.Extract(p.URL, p.Body, "text/html"); err != nil {
				b.Fatal(err)
			}
		}
		exWall += time.Since(w)
		exCPU += procstat.CPUTime() - c

		c = procstat.CPUTime()
		for _, p := range pages {
			if _, err := extract.Candidates(p.URL, p.Body, "text/html"); err != nil {
				b.Fatal(err)
			}
		}
		caCPU += procstat.CPUTime() - c
	}
	n := float64(b.N * len(pages))
	b.ReportMetric(n/ccWall.Seconds(), "cc-pages/s")
	b.ReportMetric(n/exWall.Seconds(), "extract-pages/s")
	b.ReportMetric(exWall.Seconds()/ccWall.Seconds(), "ratio-wall")
	if ccCPU > 0 && exCPU > 0 {
		b.ReportMetric(n/ccCPU.Seconds(), "cc-pages/cpu-s")
		b.ReportMetric(n/exCPU.Seconds(), "extract-pages/cpu-s")
		b.ReportMetric(exCPU.Seconds()/ccCPU.Seconds(), "ratio-cpu")
		b.ReportMetric(caCPU.Seconds()/ccCPU.Seconds(), "ratio-cpu-candidates")
	}
	b.ReportMetric(float64(len(pages)), "pages")
	b.ReportMetric(float64(pairs), "pairs")
	b.ReportMetric(float64(st.Size())/float64(len(pages)), "warc-bytes/page")
}

// watOf builds a WAT file for the pages in Common Crawl's layout: per page a request, a response
// and a metadata record's WAT record, the response's carrying the page's head metadata and
// every link (a, img, link, script, form...) as webarchive-commons lists them.
func watOf(b *testing.B, pages []benchPage, linkCopies int) (path string, records int, jsonBytes int64) {
	b.Helper()
	var buf bytes.Buffer
	w := warc.NewWriter(&buf, true)
	write := func(uri string, doc any) {
		data, err := json.Marshal(doc)
		if err != nil {
			b.Fatal(err)
		}
		h := warc.Header{Fields: []warc.Field{
			{Name: warc.FieldType, Value: warc.TypeMetadata}, {Name: warc.FieldTargetURI, Value: uri},
			{Name: warc.FieldDate, Value: "2024-03-01T10:00:00Z"}, {Name: warc.FieldRecordID, Value: warc.NewRecordID()},
			{Name: "WARC-Refers-To", Value: warc.NewRecordID()}, {Name: warc.FieldContentType, Value: "application/json"},
		}}
		if err := w.WriteRecord(&h, data); err != nil {
			b.Fatal(err)
		}
		records++
		jsonBytes += int64(len(data))
	}
	container := map[string]any{"Filename": "CC-MAIN-20240301000000-00000.warc.gz", "Compressed": true, "Offset": "123456",
		"Gzip-Metadata": map[string]any{"Deflate-Length": "4567", "Header-Length": "10", "Footer-Length": "8", "Inflated-CRC": "-12345678", "Inflated-Length": "23456"}}
	for _, p := range pages {
		uri := p.URL.String()
		hdr := func(typ string) map[string]any {
			return map[string]any{"WARC-Type": typ, "WARC-Date": "2024-03-01T10:00:00Z", "WARC-Record-ID": warc.NewRecordID(),
				"Content-Length": "12345", "Content-Type": "application/http; msgtype=" + typ, "WARC-Warcinfo-ID": warc.NewRecordID(),
				"WARC-Concurrent-To": warc.NewRecordID(), "WARC-IP-Address": "192.0.2.7", "WARC-Target-URI": uri,
				"WARC-Payload-Digest": "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", "WARC-Block-Digest": "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"}
		}
		write(uri, map[string]any{"Container": container, "Envelope": map[string]any{"Format": "WARC", "WARC-Header-Length": "400",
			"Block-Digest": "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", "Actual-Content-Length": "300", "WARC-Header-Metadata": hdr("request"),
			"Payload-Metadata": map[string]any{"Actual-Content-Type": "application/http; msgtype=request", "HTTP-Request-Metadata": map[string]any{
				"Request-Message": map[string]any{"Method": "GET", "Path": p.URL.RequestURI(), "Version": "HTTP/1.1"}, "Headers-Length": "250",
				"Headers":       map[string]any{"Host": p.URL.Host, "User-Agent": "CCBot/2.0 (https://commoncrawl.org/faq/)", "Accept": "text/html", "Accept-Encoding": "br,gzip"},
				"Entity-Length": "0", "Entity-Digest": "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", "Entity-Trailing-Slop-Length": "0"}}}})
		head, links := watHTMLMetadata(p.Body)
		one := links
		for range linkCopies - 1 { // link-heavier pages than documentation has
			links = append(links, one...)
		}
		write(uri, map[string]any{"Container": container, "Envelope": map[string]any{"Format": "WARC", "WARC-Header-Length": "600",
			"Block-Digest": "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", "Actual-Content-Length": fmt.Sprint(len(p.Body) + 300), "WARC-Header-Metadata": hdr("response"),
			"Payload-Metadata": map[string]any{"Actual-Content-Type": "application/http; msgtype=response", "HTTP-Response-Metadata": map[string]any{
				"Response-Message": map[string]any{"Status": "200", "Version": "HTTP/1.1", "Reason": "OK"}, "Headers-Length": "300",
				"Headers":         map[string]any{"Content-Type": "text/html", "Server": "nginx", "Date": "Fri, 01 Mar 2024 10:00:00 GMT", "Last-Modified": "Thu, 01 Feb 2024 10:00:00 GMT"},
				"Entity-Metadata": map[string]any{"Content-Type": "text/html", "Actual-Content-Length": fmt.Sprint(len(p.Body)), "Trailing-Slop-Length": "0"},
				"HTML-Metadata":   map[string]any{"Head": head, "Links": links}, "Entity-Length": fmt.Sprint(len(p.Body)), "Entity-Digest": "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", "Entity-Trailing-Slop-Length": "0"}}}})
		write(uri, map[string]any{"Container": container, "Envelope": map[string]any{"Format": "WARC", "WARC-Header-Length": "400",
			"Block-Digest": "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", "Actual-Content-Length": "200", "WARC-Header-Metadata": map[string]any{"WARC-Type": "metadata", "WARC-Target-URI": uri, "WARC-Date": "2024-03-01T10:00:00Z", "Content-Type": "application/warc-fields"},
			"Payload-Metadata": map[string]any{"Actual-Content-Type": "application/metadata-fields", "WARC-Metadata-Metadata": map[string]any{
				"Metadata-Records": []any{map[string]any{"Name": "fetchTimeMs", "Value": "251"}, map[string]any{"Name": "charset-detected", "Value": "UTF-8"}}}}}})
	}
	path = filepath.Join(b.TempDir(), "bench.warc.wat.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return path, records, jsonBytes
}

// watHTMLMetadata lists a page's head metadata and links the way Common Crawl's WAT extractor
// does (tag@/attribute paths, raw attribute values).
func watHTMLMetadata(body []byte) (head map[string]any, links []any) {
	head = map[string]any{}
	var metas, linkTags, scripts []any
	z := html.NewTokenizer(bytes.NewReader(body))
	inTitle := false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt == html.TextToken && inTitle {
			head["Title"] = strings.TrimSpace(string(z.Text()))
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			inTitle = false
			continue
		}
		name, hasAttr := z.TagName()
		attrs := map[string]string{}
		for hasAttr {
			var k, v []byte
			k, v, hasAttr = z.TagAttr()
			attrs[string(k)] = string(v)
		}
		tag := strings.ToUpper(string(name))
		inTitle = tag == "TITLE"
		add := func(dst *[]any, attr string, extra ...string) {
			if v, ok := attrs[attr]; ok {
				m := map[string]any{"path": tag + "@/" + attr, "url": v}
				for _, e := range extra {
					if x, ok := attrs[e]; ok {
						m[e] = x
					}
				}
				*dst = append(*dst, m)
			}
		}
		switch tag {
		case "HTML":
			if v, ok := attrs["lang"]; ok {
				metas = append(metas, map[string]any{"name": "HTML@/lang", "content": v})
			}
		case "META":
			m := map[string]any{}
			for _, k := range []string{"name", "content", "http-equiv", "property"} {
				if v, ok := attrs[k]; ok {
					m[k] = v
				}
			}
			metas = append(metas, m)
		case "LINK":
			add(&linkTags, "href", "rel", "type")
		case "SCRIPT":
			add(&scripts, "src", "type")
		case "BASE":
			if v, ok := attrs["href"]; ok {
				head["Base"] = v
			}
		case "A":
			add(&links, "href", "title", "rel")
		case "IMG":
			add(&links, "src", "alt", "title")
		case "FORM":
			add(&links, "action", "method")
		case "IFRAME", "EMBED", "SOURCE", "FRAME":
			add(&links, "src")
		}
	}
	head["Metas"], head["Link"], head["Scripts"] = metas, linkTags, scripts
	return head, links
}

// BenchmarkCCWAT measures `wit cc` on a WAT file: records per CPU second (issue 13 asks for
// >= 20,000 per core) over all WAT records, a third of them HTML responses with links. The
// documentation pages have fewer links than the average web page; links=x8 repeats them to
// show how the rate scales with record size (json-bytes/record).
func BenchmarkCCWAT(b *testing.B) {
	pages := loadBenchPages(b)
	for _, copies := range []int{1, 8} {
		b.Run(fmt.Sprintf("links=x%d", copies), func(b *testing.B) { benchWAT(b, pages, copies) })
	}
}

func benchWAT(b *testing.B, pages []benchPage, linkCopies int) {
	file, records, jsonBytes := watOf(b, pages, linkCopies)
	st, _ := os.Stat(file)
	opts := Options{Out: b.TempDir(), Logger: quiet, Format: FormatWAT}
	opts.State = filepath.Join(opts.Out, ".cc-state")
	if err := opts.validate(); err != nil {
		b.Fatal(err)
	}
	if err := prepareDirs(context.Background(), opts); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	var pairs int64
	i := 0
	cpu0 := procstat.CPUTime()
	for b.Loop() {
		fs, err := ProcessFile(context.Background(), opts, Input{Name: file, Index: i})
		if err != nil {
			b.Fatal(err)
		}
		if fs.Records != int64(records) || fs.Outcomes[OutcomeBadJSON] != 0 {
			b.Fatalf("records %d %v", fs.Records, fs.Outcomes)
		}
		pairs = fs.Pairs
		i++
	}
	cpu := procstat.CPUTime() - cpu0
	n := float64(b.N * records)
	b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
	if cpu > 0 {
		b.ReportMetric(n/cpu.Seconds(), "records/cpu-s")
	}
	b.ReportMetric(float64(records), "records")
	b.ReportMetric(float64(pairs), "pairs")
	b.ReportMetric(float64(st.Size())/float64(records), "wat-bytes/record")
	b.ReportMetric(float64(jsonBytes)/float64(records), "json-bytes/record")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)*float64(jsonBytes)/1e6/cpu.Seconds(), "json-MB/cpu-s")
	}
}

// BenchmarkWARCRead measures reading alone (gunzip, record headers, every block read to its
// end, CRCs checked) on the WARC file of BenchmarkCCWARCVsExtract: the part of cc's cost that
// is not extraction.
func BenchmarkWARCRead(b *testing.B) {
	pages := loadBenchPages(b)
	file := warcOf(b, pages, false)
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	var inflated int64
	b.SetBytes(int64(len(data)))
	cpu0 := procstat.CPUTime()
	for b.Loop() {
		rd := warc.NewReader(bytes.NewReader(data), warc.ReaderOptions{})
		inflated = 0
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			for {
				n, err := rec.Body.Read(buf)
				inflated += int64(n)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	cpu := procstat.CPUTime() - cpu0
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(pages)), "µs/page")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*len(pages)), "cpu-µs/page")
	b.ReportMetric(float64(inflated)/float64(len(pages)), "block-bytes/page")
}
