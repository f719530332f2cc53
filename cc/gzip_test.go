package cc

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/warc"
)

// TestGzipPayloadSameAsStreaming: a gzip-encoded HTTP payload decoded whole (gunzipWhole) gives
// the same pairs and outcomes as the streaming reader, whatever the payload's shape.
func TestGzipPayloadSameAsStreaming(t *testing.T) {
	page := gz(richPage)
	damaged := []byte(page)
	damaged[len(damaged)/2] ^= 0x40
	long := gz(richPage + strings.Repeat("<p>", 20000)) // inflates past an 8 KiB MaxBody
	payloads := map[string]string{
		"one member":         page,
		"two members":        gz(richPage[:300]) + gz(richPage[300:]),
		"trailing bytes":     page + "\r\njunk",
		"cut short":          page[:len(page)-40],
		"cut in the trailer": page[:len(page)-3],
		"damaged":            string(damaged),
		"not gzip":           richPage,
		"empty":              "",
		"long":               long,
	}
	for name, payload := range payloads {
		for _, maxBody := range []int64{1 << 20, 8 << 10} {
			msg := "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n" + payload
			data, _ := writeRecords(t, []*warc.OutRecord{response("https://example.fr/p", "2024-03-01T10:00:00Z", msg)})
			var got [2]string
			for i, streamed := range []bool{false, true} {
				p := newProcessor(FormatWARC, maxBody)
				p.noGzip = streamed
				var c Counters
				var pairs []string
				rd := warc.NewReader(bytes.NewReader(data), warc.ReaderOptions{})
				for {
					rec, err := rd.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					err = p.record(rec, &c, func(pr shards.Pair) error {
						pairs = append(pairs, pr.ImageURL+" "+pr.Caption)
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				slices.Sort(pairs)
				got[i] = fmt.Sprintf("%v %v", c.Outcomes, pairs)
			}
			if got[0] != got[1] {
				t.Errorf("%s, MaxBody %d: whole %s; streamed %s", name, maxBody, got[0], got[1])
			}
			if name == "one member" && !strings.Contains(got[0], "Vue du port") {
				t.Errorf("one member: %s", got[0])
			}
		}
	}
}
