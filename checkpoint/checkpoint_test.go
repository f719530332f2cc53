package checkpoint

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/witdata/wit/model"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/tokenizer"
)

// golden is a checkpoint written by train.SaveCheckpoint before the format moved into this package.
const golden = "testdata/format1"

func testTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Train([]string{"a red square", "a blue circle", "a green stripe", "a red circle"}, tokenizer.TrainOptions{VocabSize: 280})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func testConfig(vocab int) model.Config {
	return model.Config{Name: "test", EmbedDim: 8, ImageResolution: 8, VisionLayers: 1, VisionWidth: 8, VisionPatchSize: 4,
		VisionHeads: 2, ContextLength: 6, VocabSize: vocab, TransformerWidth: 8, TransformerHeads: 2, TransformerLayers: 1}.WithDefaults()
}

// testVars holds one variable of each kind a training context has: RNG state, a trainable matrix,
// a trainable scalar and a non-trainable counter.
func testVars(t testing.TB) *context.Context {
	t.Helper()
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(3); err != nil {
		t.Fatal(err)
	}
	ctx.In("visual").VariableWithValue("weights", [][]float32{{1, -2, 0.5}, {0.25, 3, -1}})
	ctx.VariableWithValue("logit_scale", float32(2.5))
	ctx.InAbsPath("/adamw").VariableWithValue("step", int64(7)).SetTrainable(false)
	return ctx
}

type savedVar struct {
	scopeAndName string
	trainable    bool
	value        *tensors.Tensor
}

func varsOf(ctx *context.Context) []savedVar {
	var out []savedVar
	for v := range ctx.IterVariables() {
		out = append(out, savedVar{v.ScopeAndName(), v.Trainable, v.MustValue()})
	}
	return out
}

func checkSameVars(t *testing.T, got, want *context.Context) {
	t.Helper()
	g, w := varsOf(got), varsOf(want)
	if len(g) != len(w) {
		t.Fatalf("%d variables, want %d", len(g), len(w))
	}
	for i := range w {
		if g[i].scopeAndName != w[i].scopeAndName || g[i].trainable != w[i].trainable || !g[i].value.Equal(w[i].value) {
			t.Errorf("variable %d: %s trainable=%v %v, want %s trainable=%v %v", i, g[i].scopeAndName, g[i].trainable, g[i].value, w[i].scopeAndName, w[i].trainable, w[i].value)
		}
	}
}

func TestSaveReadRoundTrip(t *testing.T) {
	tok := testTokenizer(t)
	cfg := testConfig(tok.VocabSize())
	vars := testVars(t)
	run := t.TempDir()
	opts := json.RawMessage(`{"seed":3,"batch_size":8}`)
	st := State{Step: 7, Samples: 56, Position: shards.Position{Epoch: 1, Consumed: 3}, Corrupt: 2, Options: opts, Model: cfg}
	hyper := model.Hyper{BatchSize: 8, LearningRate: 1e-3, Steps: 40}
	path, err := Save(run, st, hyper, vars, tok)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(run, Subdir, Name(7)) {
		t.Errorf("saved at %s", path)
	}
	for _, dir := range []string{run, path} { // a run folder (its latest) or the checkpoint itself
		ck, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		got := ck.State
		if ck.Dir != path || got.Format != formatVersion || got.Step != 7 || got.Samples != 56 || got.Position != st.Position || got.Corrupt != 2 || got.Model != cfg || got.Saved.IsZero() {
			t.Errorf("read %+v from %s", got, ck.Dir)
		}
		var o map[string]int
		if err := json.Unmarshal(got.Options, &o); err != nil || o["seed"] != 3 || o["batch_size"] != 8 {
			t.Errorf("options %s: %v", got.Options, err)
		}
		if ck.Tokenizer.VocabSize() != tok.VocabSize() || !slices.Equal(ck.Tokenizer.Encode("a red circle", 6), tok.Encode("a red circle", 6)) {
			t.Error("tokenizer differs after the round trip")
		}
		checkSameVars(t, ck.Context, vars)
	}
	f, err := model.LoadFile(filepath.Join(path, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if f.Model != cfg || f.Train != hyper {
		t.Errorf("config.yaml holds %+v", f)
	}
}

// TestReadFormat1 reads a checkpoint written before this package existed: the format is unchanged.
func TestReadFormat1(t *testing.T) {
	ck, err := Read(golden)
	if err != nil {
		t.Fatal(err)
	}
	st := ck.State
	if filepath.Base(ck.Dir) != Name(7) || st.Step != 7 || st.Samples != 56 || st.Position != (shards.Position{Epoch: 1, Consumed: 3}) || st.Corrupt != 2 || st.Model.Name != "golden" {
		t.Errorf("state %+v", st)
	}
	var o struct {
		Seed    uint64 `json:"seed"`
		Workers int    `json:"workers"`
	}
	if err := json.Unmarshal(st.Options, &o); err != nil || o.Seed != 3 || o.Workers != 2 {
		t.Errorf("options %s: %v", st.Options, err)
	}
	checkSameVars(t, ck.Context, testVars(t))
}

// copyGolden copies the golden checkpoint folder into a temp folder and returns the copy's path.
func copyGolden(t testing.TB) string {
	t.Helper()
	src := filepath.Join(golden, Subdir, Name(7))
	dst := filepath.Join(t.TempDir(), Name(7))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{StateFile, VariablesFile, TokenizerFile, ConfigFile} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// editState rewrites state.json of the checkpoint at dir through edit (on its generic JSON form).
func editState(t testing.TB, dir string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, StateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	if data, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReadRejects: every damaged checkpoint is refused with an error (never a panic, never a
// silently wrong variable).
func TestReadRejects(t *testing.T) {
	variable := func(i int, key string, v any) func(dir string) {
		return func(dir string) {
			editState(t, dir, func(st map[string]any) { st["variables"].([]any)[i].(map[string]any)[key] = v })
		}
	}
	for _, tc := range []struct {
		name   string
		damage func(dir string)
	}{
		{"flipped byte", func(dir string) {
			path := filepath.Join(dir, VariablesFile)
			data, _ := os.ReadFile(path)
			data[len(data)/2] ^= 0xff
			os.WriteFile(path, data, 0o644)
		}},
		{"truncated variables", func(dir string) { os.Truncate(filepath.Join(dir, VariablesFile), 30) }},
		{"no variables file", func(dir string) { os.Remove(filepath.Join(dir, VariablesFile)) }},
		{"no tokenizer", func(dir string) { os.Remove(filepath.Join(dir, TokenizerFile)) }},
		{"state not JSON", func(dir string) { os.WriteFile(filepath.Join(dir, StateFile), []byte("{"), 0o644) }},
		{"other format", func(dir string) { editState(t, dir, func(st map[string]any) { st["format"] = 2 }) }},
		{"invalid model", func(dir string) {
			editState(t, dir, func(st map[string]any) { st["model"].(map[string]any)["EmbedDim"] = -1 })
		}},
		{"vocabulary smaller than the tokenizer's", func(dir string) {
			editState(t, dir, func(st map[string]any) { st["model"].(map[string]any)["VocabSize"] = 10 })
		}},
		{"negative dimension", variable(1, "dims", []int{-2, -3})},
		{"dimensions beyond the bytes", variable(1, "dims", []int{1 << 40, 1 << 40})},
		{"bytes beyond the file", variable(1, "bytes", 1<<40)},
		{"negative offset", variable(1, "offset", -8)},
		{"bad dtype", variable(1, "dtype", "NoSuchType")},
		{"relative scope", variable(1, "scope", "visual")},
		{"no name", variable(1, "name", "")},
		{"listed twice", func(dir string) {
			editState(t, dir, func(st map[string]any) { v := st["variables"].([]any); st["variables"] = append(v, v[1]) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyGolden(t)
			tc.damage(dir)
			_, err := Read(dir)
			if err == nil {
				t.Error("damaged checkpoint read without error")
			}
			t.Log(err)
		})
	}
	if _, err := Read(t.TempDir()); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty folder: %v", err)
	}
}

func TestPruneReplaceAndCleanTemp(t *testing.T) {
	tok := testTokenizer(t)
	cfg := testConfig(tok.VocabSize())
	vars := testVars(t)
	run := t.TempDir()
	for step := int64(1); step <= 5; step++ {
		if _, err := Save(run, State{Step: step * 10, Model: cfg}, model.Hyper{}, vars, tok); err != nil {
			t.Fatal(err)
		}
		if err := Prune(run, 2); err != nil {
			t.Fatal(err)
		}
	}
	// Re-saving an existing step replaces it.
	if _, err := Save(run, State{Step: 50, Samples: 99, Model: cfg}, model.Hyper{}, vars, tok); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(run, Subdir, ".tmp-step-000000060-123"), 0o755)
	os.MkdirAll(filepath.Join(run, Subdir, Name(40)+".old-xyz"), 0o755)
	if err := CleanTemp(run); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(run, Subdir))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{Name(40), Name(50)}) {
		t.Errorf("checkpoints %v, want steps 40 and 50", names)
	}
	ck, err := Read(run)
	if err != nil || ck.State.Samples != 99 {
		t.Errorf("latest checkpoint after replacing step 50: %v, %+v", err, ck)
	}
	cks, err := List(run)
	if err != nil || len(cks) != 2 || filepath.Base(cks[0]) != Name(40) {
		t.Errorf("List: %v, %v", cks, err)
	}
}

// FuzzReadState: any state.json beside the golden variables.bin is read or refused, never a panic.
func FuzzReadState(f *testing.F) {
	data, err := os.ReadFile(filepath.Join(golden, Subdir, Name(7), StateFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"format":1,"model":{},"variables":[{"scope":"/","name":"x","dtype":"Float32","dims":[-1],"bytes":4}]}`))
	f.Fuzz(func(t *testing.T, state []byte) {
		dir := copyGolden(t)
		if err := os.WriteFile(filepath.Join(dir, StateFile), state, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = Read(dir)
	})
}
