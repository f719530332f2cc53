package filter

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/witdata/wit/querymatch"
	"github.com/witdata/wit/shards"
)

func testMatcher(t testing.TB) *querymatch.Matcher {
	m, err := querymatch.Load(strings.NewReader("dog\ncat\nbeach\nblack dog\nchips\nsunset\n"), querymatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var testPairs = []shards.Pair{
	{PageURL: "http://p/1", ImageURL: "http://i/1.jpg", Caption: "A black dog running on the beach", PageLang: "en"},
	{PageURL: "http://p/1", ImageURL: "http://i/2.jpg", Caption: "IMG_1234.JPG"},
	{PageURL: "http://p/1", ImageURL: "http://i/3.jpg", Caption: "Un chien noir qui court sur la plage"},
	{PageURL: "http://p/2", ImageURL: "http://i/1.jpg", Caption: "A  black dog running on the   beach"}, // duplicate after normalisation
	{PageURL: "http://p/2", ImageURL: "http://i/4.jpg", Caption: "logo"},
	{PageURL: "http://p/2", ImageURL: "http://i/5.jpg", Caption: "Fish &amp; chips at the harbour"},
	{PageURL: "http://p/2", ImageURL: "http://i/6.jpg", Caption: "Quarterly report of the committee"}, // no query
	{PageURL: "http://p/3", ImageURL: "http://i/7.jpg", Caption: "My cat sleeping in the sun \xff"},   // invalid UTF-8
	{PageURL: "http://p/3", ImageURL: "http://i/8.jpg", Caption: "Чёрная собака dog на пляже бежит"},
}

func writePairsDir(t testing.TB, dir string, pairs []shards.Pair, perFile int) {
	w, err := shards.NewWriter(dir, shards.PairSchema, shards.WriterOptions{RowsPerFile: perFile, FirstIndex: 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		p.FetchedAt = time.Unix(1700000000, 0).UTC()
		shards.AppendPair(w.Builder(), p)
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

type outRow struct {
	url, caption, lang, decision, reason string
	matched                              []string
}

func readOut(t testing.TB, dir string) []outRow {
	var rows []outRow
	for rec, err := range shards.ReadDir(context.Background(), dir, nil) {
		if err != nil {
			t.Fatal(err)
		}
		s := rec.Schema()
		col := func(name string) *array.String {
			idx := s.FieldIndices(name)
			if len(idx) == 0 {
				return nil
			}
			return rec.Column(idx[0]).(*array.String)
		}
		urlName := shards.ColImageURL
		if len(s.FieldIndices(urlName)) == 0 {
			urlName = "url"
		}
		url, capt, lang, dec, reason := col(urlName), col("caption"), col(ColLanguage), col(ColDecision), col(ColDropReason)
		mq := rec.Column(s.FieldIndices(ColMatchedQueries)[0]).(*array.List)
		vals := mq.ListValues().(*array.String)
		for i := range int(rec.NumRows()) {
			r := outRow{caption: capt.Value(i), lang: lang.Value(i)}
			if url != nil {
				r.url = url.Value(i)
			}
			if dec != nil {
				r.decision, r.reason = dec.Value(i), reason.Value(i)
			}
			st, en := mq.ValueOffsets(i)
			for j := st; j < en; j++ {
				r.matched = append(r.matched, vals.Value(int(j)))
			}
			rows = append(rows, r)
		}
	}
	return rows
}

func TestRunArrowDir(t *testing.T) {
	in := filepath.Join(t.TempDir(), "pairs")
	writePairsDir(t, in, testPairs, 4)
	out := filepath.Join(t.TempDir(), "filtered")
	statsPath := filepath.Join(t.TempDir(), "s", "stats.json")
	st, err := Run(context.Background(), Options{
		In: in, Out: out, KeepAll: true, StatsJSON: statsPath, Threshold: 1000,
		Stages: Stages{Text: DefaultTextRules(), Matcher: testMatcher(t), Language: englishFilter(t)},
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := readOut(t, out)
	if len(rows) != len(testPairs) {
		t.Fatalf("keep-all wrote %d rows, want %d", len(rows), len(testPairs))
	}
	want := []struct {
		reason Reason
		lang   string
	}{
		{Kept, "en"}, {ReasonJunkFilename, ""}, {ReasonNoQuery, ""}, {ReasonDuplicate, "en"},
		{ReasonBoilerplate, ""}, {Kept, "en"}, {ReasonNoQuery, ""}, {Kept, "en"}, {ReasonLanguage, "und-Cyrl"},
	}
	for i, w := range want {
		r := rows[i]
		if Reason(r.reason) != w.reason || r.lang != w.lang {
			t.Errorf("row %d %q: reason %q lang %q, want %q %q", i, r.caption, r.reason, r.lang, w.reason, w.lang)
		}
		if (r.decision == "keep") != (w.reason == Kept) {
			t.Errorf("row %d: decision %q", i, r.decision)
		}
	}
	if rows[0].caption != "A black dog running on the beach" || !slices.Equal(rows[0].matched, []string{"black dog", "dog", "beach"}) &&
		!slices.Equal(sorted(rows[0].matched), []string{"beach", "black dog", "dog"}) {
		t.Errorf("row 0: %+v", rows[0])
	}
	if rows[5].caption != "Fish & chips at the harbour" || rows[7].caption != "My cat sleeping in the sun" {
		t.Errorf("normalised captions: %q %q", rows[5].caption, rows[7].caption)
	}
	if st.Kept != 3 || st.RepairedUTF8 != 1 || st.Dropped[ReasonDuplicate] != 1 || st.Dropped[ReasonLanguage] != 1 {
		t.Errorf("stats: %+v", st)
	}
	if st.LanguageStage.ScriptPrecheck != 1 || st.Balance.EntriesMatched != 5 {
		t.Errorf("stats: lang %+v balance %+v", st.LanguageStage, st.Balance)
	}
	for _, p := range []string{statsPath, filepath.Join(out, StatsFile)} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var back Stats
		if err := json.Unmarshal(data, &back); err != nil || back.Kept != 3 {
			t.Errorf("%s: %v kept=%d", p, err, back.Kept)
		}
	}
	// the input's other columns are carried
	for rec, err := range shards.ReadDir(context.Background(), out, nil) {
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{shards.ColPageURL, shards.ColFetchedAt, shards.ColPageLang} {
			if len(rec.Schema().FieldIndices(c)) == 0 {
				t.Errorf("column %s missing", c)
			}
		}
		break
	}
	// a second run into the same (now non-empty) directory refuses
	if _, err := Run(context.Background(), Options{In: in, Out: out, Stages: Stages{Text: DefaultTextRules()}}); err == nil {
		t.Error("overwrote a non-empty output")
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func writeCSVGz(t testing.TB, path string, rows [][2]string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	fmt.Fprintln(zw, "url,caption,width")
	for i, r := range rows {
		fmt.Fprintf(zw, "%s,\"%s\",%d\n", r[0], strings.ReplaceAll(r[1], `"`, `""`), 100+i)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestRunCSVGzBalanced(t *testing.T) {
	// 3000 "dog" pairs, 50 "cat" pairs: balancing at t=100 keeps ~100 dogs and every cat.
	var rows [][2]string
	for i := range 3000 {
		rows = append(rows, [2]string{fmt.Sprintf("http://i/d%d.jpg", i), fmt.Sprintf("A happy dog number %d", i)})
	}
	for i := range 50 {
		rows = append(rows, [2]string{fmt.Sprintf("http://i/c%d.jpg", i), fmt.Sprintf("A sleepy cat number %d", i)})
	}
	in := filepath.Join(t.TempDir(), "pairs.csv.gz")
	writeCSVGz(t, in, rows)
	run := func(seed uint64, mode string) ([]outRow, *Stats) {
		out := filepath.Join(t.TempDir(), "out")
		st, err := Run(context.Background(), Options{
			In: in, Out: out, Threshold: 100, Seed: seed, Mode: mode, ExtraCols: []string{"width"}, RowsPerFile: 50,
			Stages: Stages{Text: DefaultTextRules(), Matcher: testMatcher(t)},
		})
		if err != nil {
			t.Fatal(err)
		}
		return readOut(t, out), st
	}
	a, st := run(1, ModeExact)
	dogs, cats := 0, 0
	for _, r := range a {
		if strings.Contains(r.caption, "dog") {
			dogs++
		} else {
			cats++
		}
	}
	if cats != 50 || dogs < 70 || dogs > 130 {
		t.Errorf("exact: kept %d dogs (want ~100), %d cats (want 50)", dogs, cats)
	}
	if st.Balance.EntriesOverT != 1 || st.Balance.Top[0].Entry != "dog" || st.Balance.Top[0].Count != 3000 {
		t.Errorf("balance stats %+v", st.Balance)
	}
	if st.Kept != int64(len(a)) || st.Dropped[ReasonBalance] != int64(3050-len(a)) {
		t.Errorf("kept %d rows %d balance drops %d", st.Kept, len(a), st.Dropped[ReasonBalance])
	}
	b, _ := run(1, ModeExact)
	if len(a) != len(b) {
		t.Fatalf("same seed, different output: %d vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].url != b[i].url {
			t.Fatalf("same seed, row %d differs", i)
		}
	}
	c, _ := run(2, ModeExact)
	same := len(a) == len(c)
	for i := 0; same && i < len(a); i++ {
		same = a[i].url == c[i].url
	}
	if same {
		t.Error("another seed gave the same sample")
	}
	o, _ := run(1, ModeOnline)
	od := 0
	for _, r := range o {
		if strings.Contains(r.caption, "dog") {
			od++
		}
	}
	// online: t·(1+ln(3000/100)) ≈ 440
	if od < 350 || od > 530 {
		t.Errorf("online kept %d dogs, want about 440", od)
	}
}

func TestRunTxtNoFilters(t *testing.T) {
	in := filepath.Join(t.TempDir(), "captions.txt")
	os.WriteFile(in, []byte("# comment\nA dog on a sofa\nimage\nA dog on a sofa\nDeux chats\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	st, err := Run(context.Background(), Options{In: in, Out: out, Stages: Stages{Text: DefaultTextRules()}})
	if err != nil {
		t.Fatal(err)
	}
	rows := readOut(t, out)
	if len(rows) != 2 || st.Dropped[ReasonDuplicate] != 1 || st.Dropped[ReasonBoilerplate] != 1 {
		t.Errorf("rows %+v stats %+v", rows, st.Dropped)
	}
}

func TestRunBadInputs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := func(in string) Options {
		return Options{In: in, Out: filepath.Join(dir, "out"), Stages: Stages{Text: DefaultTextRules(), Matcher: testMatcher(t)}, Threshold: 10}
	}
	empty := filepath.Join(dir, "empty.csv")
	os.WriteFile(empty, []byte("url,caption\n"), 0o644)
	emptyDir := filepath.Join(dir, "emptydir")
	os.Mkdir(emptyDir, 0o755)
	corrupt := filepath.Join(dir, "corrupt")
	writePairsDir(t, corrupt, testPairs, 3)
	files, _ := shards.ListFiles(corrupt)
	data, _ := os.ReadFile(files[1])
	os.WriteFile(files[1], data[:len(data)/2], 0o644) // truncated second file
	badGz := filepath.Join(dir, "bad.csv.gz")
	os.WriteFile(badGz, []byte("not gzip at all"), 0o644)
	noCaption := filepath.Join(dir, "nocap.csv")
	os.WriteFile(noCaption, []byte("url,text\nhttp://x,A dog on the beach\n"), 0o644)
	for name, in := range map[string]string{"empty csv": empty, "empty dir": emptyDir, "corrupt arrow": corrupt,
		"bad gzip": badGz, "no caption column": noCaption, "missing": filepath.Join(dir, "nope.csv")} {
		_, err := Run(ctx, opts(in))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		t.Logf("%s: %v", name, err)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() == "out" || strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("%s: left %s behind", name, e.Name())
			}
		}
	}
}

// TestRunMalformedRows: a TSV caption may start with a quote; malformed rows are skipped, counted
// and listed in bad-rows.jsonl, and every count adds up; --bad-rows error stops the run instead;
// invalid UTF-8 in the caption is repaired, or dropped with DropInvalidUTF8.
func TestRunMalformedRows(t *testing.T) {
	in := filepath.Join(t.TempDir(), "pairs.tsv")
	os.WriteFile(in, []byte("url\tcaption\n"+
		"http://i/1.jpg\t\"Jali\" a dog on the beach\n"+
		"http://i/2.jpg\ta cat on a sofa\n"+
		"http://i/3.jpg\ttoo\tmany fields\n"+ // line 4: field count
		"http://i/4.jpg\ta dog \xff in the snow\n"+ // invalid UTF-8 in the caption: repaired
		"http://i/\xff.jpg\ta cat in a box\n"+ // line 6: invalid UTF-8 in the URL: malformed
		"http://i/6.jpg\ta cat\x00 in a hat\n"+ // line 7: NUL
		"http://i/7.jpg\t\"the last dog\n"), 0o644)
	stages := Stages{Text: TextRules{}}
	out := filepath.Join(t.TempDir(), "out")
	st, err := Run(context.Background(), Options{In: in, Out: out, Stages: stages, KeepAll: true})
	if err != nil {
		t.Fatal(err)
	}
	rows := readOut(t, out)
	if len(rows) != 4 || rows[0].caption != `"Jali" a dog on the beach` || rows[3].caption != `"the last dog` {
		t.Fatalf("rows %+v", rows)
	}
	if st.RowsRead != 7 || st.Rows != 4 || st.RepairedUTF8 != 1 ||
		!maps.Equal(st.BadRows, map[string]int64{"field_count": 1, "invalid_utf8": 1, "nul_byte": 1}) {
		t.Fatalf("stats: read %d rows %d repaired %d bad %v", st.RowsRead, st.Rows, st.RepairedUTF8, st.BadRows)
	}
	var dropped int64
	for _, n := range st.Dropped {
		dropped += n
	}
	if st.RowsRead != st.Kept+dropped+st.BadRowsTotal() {
		t.Fatalf("counts do not add up: read %d = kept %d + dropped %d + bad %d", st.RowsRead, st.Kept, dropped, st.BadRowsTotal())
	}
	logged, err := os.ReadFile(filepath.Join(out, "bad-rows.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []int64
	for _, l := range strings.Split(strings.TrimSpace(string(logged)), "\n") {
		var b struct {
			Line   int64
			Reason string
		}
		if err := json.Unmarshal([]byte(l), &b); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, b.Line)
	}
	if !slices.Equal(lines, []int64{4, 6, 7}) {
		t.Fatalf("logged lines %v, want 4 6 7", lines)
	}

	// --drop-invalid-utf8 drops the caption with bad bytes instead, counted.
	out2 := filepath.Join(t.TempDir(), "out")
	st, err = Run(context.Background(), Options{In: in, Out: out2, Stages: Stages{Text: TextRules{}, DropInvalidUTF8: true}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Kept != 3 || st.Dropped[ReasonInvalidUTF8] != 1 {
		t.Fatalf("drop-invalid-utf8: kept %d, invalid_utf8 %d", st.Kept, st.Dropped[ReasonInvalidUTF8])
	}

	// The error policy stops at the first malformed row, naming its line; no output.
	out3 := filepath.Join(t.TempDir(), "out")
	_, err = Run(context.Background(), Options{In: in, Out: out3, Stages: stages, BadRows: "error"})
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("error policy: %v", err)
	}
	if _, serr := os.Stat(out3); !os.IsNotExist(serr) {
		t.Fatalf("error policy left output: %v", serr)
	}
}
