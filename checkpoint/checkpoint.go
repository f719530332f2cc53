package checkpoint

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/tokenizer"
)

// Layout: <run>/checkpoints/step-NNNNNNNNN/{state.json, variables.bin, tok.json, config.yaml}.
const (
	Subdir        = "checkpoints" // the folder of a run folder that holds its checkpoints
	namePrefix    = "step-"
	StateFile     = "state.json"
	VariablesFile = "variables.bin"
	TokenizerFile = "tok.json"
	ConfigFile    = "config.yaml"
	formatVersion = 1
)

// ErrNotFound is returned when a folder is neither a checkpoint nor a run folder holding one.
var ErrNotFound = errors.New("no checkpoint")

// State is a checkpoint's state.json: everything but the tensors needed to continue training exactly.
type State struct {
	Format   int             `json:"format"`
	Step     int64           `json:"step"`     // optimizer steps completed
	Samples  int64           `json:"samples"`  // training pairs consumed (corrupt images excluded)
	Position shards.Position `json:"position"` // data position after the last pair of the last step
	Corrupt  int64           `json:"corrupt_images"`
	// Options are the trainer's options in effect (train.Options, seed included) as JSON: only the
	// trainer reads them back, so the format does not depend on the trainer.
	Options json.RawMessage `json:"options"`
	Model   model.Config    `json:"model"`
	Saved   time.Time       `json:"saved"`
	// Variables indexes variables.bin: every context variable (weights, AdamW moments and step, GoMLX's
	// global step and RNG state), in the context's creation order.
	Variables []VarEntry `json:"variables"`
}

// VarEntry locates one variable's raw little-endian bytes in variables.bin.
type VarEntry struct {
	Scope     string       `json:"scope"`
	Name      string       `json:"name"`
	DType     dtypes.DType `json:"dtype"`
	Dims      []int        `json:"dims"`
	Trainable bool         `json:"trainable"`
	Offset    int64        `json:"offset"`
	Bytes     int64        `json:"bytes"`
	CRC32     uint32       `json:"crc32"`
}

// Name is the folder name of the checkpoint after step steps.
func Name(step int64) string { return fmt.Sprintf("%s%09d", namePrefix, step) }

// Save writes a checkpoint of ctx's variables, st, tok and config.yaml (st.Model with the training
// hyperparameters hyper) into <runDir>/checkpoints atomically: everything goes into a temp folder that
// is fsynced and renamed into place, so a crash leaves the previous checkpoints and at worst a
// ".tmp-*" folder (removed by CleanTemp). It returns the checkpoint's path.
func Save(runDir string, st State, hyper model.Hyper, ctx *context.Context, tok *tokenizer.Tokenizer) (path string, err error) {
	root := filepath.Join(runDir, Subdir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	final := filepath.Join(root, Name(st.Step))
	dir, err := atomicfile.CreateDir(final)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	defer dir.Abort() // nothing after Replace
	tmp := dir.TempPath()
	st.Format = formatVersion
	st.Saved = time.Now().UTC()
	st.Variables, err = writeVariables(filepath.Join(tmp, VariablesFile), ctx)
	if err != nil {
		return "", err
	}
	stateJSON, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return "", fmt.Errorf("checkpoint state: %w", err)
	}
	tokJSON, err := tok.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("checkpoint tokenizer: %w", err)
	}
	cfgYAML, err := yaml.Marshal(model.File{Model: st.Model, Train: hyper})
	if err != nil {
		return "", fmt.Errorf("checkpoint config: %w", err)
	}
	for name, data := range map[string][]byte{StateFile: stateJSON, TokenizerFile: tokJSON, ConfigFile: cfgYAML} {
		if err := atomicfile.WriteFile(filepath.Join(tmp, name), data); err != nil {
			return "", fmt.Errorf("checkpoint: %w", err)
		}
	}
	// A resumed run may save the same step again: Replace moves the old folder aside first.
	if err := dir.Replace(); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	return final, nil
}

func writeVariables(path string, ctx *context.Context) ([]VarEntry, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var entries []VarEntry
	var off int64
	for v := range ctx.IterVariables() {
		val, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("checkpoint variable %s: %w", v.ScopeAndName(), err)
		}
		e := VarEntry{Scope: v.Scope(), Name: v.Name(), DType: v.DType(), Dims: slices.Clone(v.Shape().Dimensions), Trainable: v.Trainable, Offset: off}
		var werr error
		if err := val.ConstBytes(func(data []byte) {
			e.Bytes = int64(len(data))
			e.CRC32 = crc32.ChecksumIEEE(data)
			_, werr = w.Write(data)
		}); err != nil {
			return nil, fmt.Errorf("checkpoint variable %s: %w", v.ScopeAndName(), err)
		}
		if werr != nil {
			return nil, fmt.Errorf("checkpoint: write %s: %w", path, werr)
		}
		off += e.Bytes
		entries = append(entries, e)
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("checkpoint: sync %s: %w", path, err)
	}
	return entries, f.Close()
}

// Checkpoint is a loaded checkpoint.
type Checkpoint struct {
	Dir       string
	State     State
	Tokenizer *tokenizer.Tokenizer
	Context   *context.Context // holds every saved variable, in the saved order
}

// List returns the committed checkpoints of a run folder, oldest first.
func List(runDir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(runDir, Subdir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	type ck struct {
		step int64
		path string
	}
	var cks []ck
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), namePrefix)
		if !ok || !e.IsDir() {
			continue
		}
		step, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			continue
		}
		cks = append(cks, ck{step, filepath.Join(runDir, Subdir, e.Name())})
	}
	slices.SortFunc(cks, func(a, b ck) int { return int(a.step - b.step) })
	paths := make([]string, len(cks))
	for i, c := range cks {
		paths[i] = c.path
	}
	return paths, nil
}

// Resolve accepts a checkpoint folder or a run folder (its latest checkpoint).
func Resolve(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err == nil {
		return dir, nil
	}
	cks, err := List(dir)
	if err != nil {
		return "", err
	}
	if len(cks) == 0 {
		return "", fmt.Errorf("%s: %w (neither a checkpoint nor a run folder with one)", dir, ErrNotFound)
	}
	return cks[len(cks)-1], nil
}

// Prune keeps the newest keep checkpoints of a run folder (keep ≤ 0 keeps all).
func Prune(runDir string, keep int) error {
	if keep <= 0 {
		return nil
	}
	cks, err := List(runDir)
	if err != nil {
		return err
	}
	for _, p := range cks[:max(len(cks)-keep, 0)] {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("prune checkpoint: %w", err)
		}
		slog.Debug("pruned checkpoint", "path", p)
	}
	return nil
}

// CleanTemp removes the temp folders an interrupted Save left in a run folder.
func CleanTemp(runDir string) error {
	root := filepath.Join(runDir, Subdir)
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clean checkpoints: %w", err)
	}
	for _, e := range entries {
		// atomicfile's temp and aside names, and ".tmp-*" folders of checkpoints saved before it.
		name := e.Name()
		if strings.HasPrefix(name, ".tmp-") || strings.Contains(name, atomicfile.TempMarker) || strings.Contains(name, atomicfile.OldMarker) {
			if err := os.RemoveAll(filepath.Join(root, name)); err != nil {
				return fmt.Errorf("clean checkpoints: %w", err)
			}
		}
	}
	return nil
}

// Read loads a checkpoint folder (or a run folder's latest checkpoint): state, tokenizer and a fresh
// context holding every variable with its saved value, trainability and order.
func Read(dir string) (*Checkpoint, error) {
	dir, err := Resolve(dir)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	ck := &Checkpoint{Dir: dir}
	if err := json.Unmarshal(data, &ck.State); err != nil {
		return nil, fmt.Errorf("checkpoint %s: state: %w", dir, err)
	}
	if ck.State.Format != formatVersion {
		return nil, fmt.Errorf("checkpoint %s: format %d, want %d", dir, ck.State.Format, formatVersion)
	}
	if _, err := model.New(ck.State.Model); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if ck.Tokenizer, err = tokenizer.Load(filepath.Join(dir, TokenizerFile)); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if ck.Tokenizer.VocabSize() > ck.State.Model.VocabSize {
		return nil, fmt.Errorf("checkpoint %s: tokenizer has %d ids, model only %d", dir, ck.Tokenizer.VocabSize(), ck.State.Model.VocabSize)
	}
	if ck.Context, err = readVariables(filepath.Join(dir, VariablesFile), ck.State.Variables); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return ck, nil
}

func readVariables(path string, entries []VarEntry) (*context.Context, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ctx := context.New()
	seen := make(map[[2]string]bool, len(entries))
	for _, e := range entries {
		switch {
		case !strings.HasPrefix(e.Scope, context.ScopeSeparator) || e.Name == "":
			return nil, fmt.Errorf("variable %q in scope %q: want an absolute scope and a name", e.Name, e.Scope)
		case seen[[2]string{e.Scope, e.Name}]:
			return nil, fmt.Errorf("variable %s/%s: listed twice", e.Scope, e.Name)
		}
		seen[[2]string{e.Scope, e.Name}] = true
		if !e.DType.IsADType() || e.DType == dtypes.InvalidDType {
			return nil, fmt.Errorf("variable %s/%s: bad dtype %v", e.Scope, e.Name, e.DType)
		}
		if e.Bytes < 0 || e.Offset < 0 || e.Bytes > info.Size() || e.Offset > info.Size()-e.Bytes {
			return nil, fmt.Errorf("variable %s/%s: %d bytes at %d do not fit the file of %d bytes", e.Scope, e.Name, e.Bytes, e.Offset, info.Size())
		}
		// Dimensions are checked before shapes.Make (which panics on a negative one) and bounded by
		// the entry's byte count (at least one bit an element), so their product cannot overflow.
		elems := int64(1)
		for _, d := range e.Dims {
			if d < 0 || d > 0 && elems > 8*e.Bytes/int64(d) {
				return nil, fmt.Errorf("variable %s/%s: dimensions %v do not fit %d bytes", e.Scope, e.Name, e.Dims, e.Bytes)
			}
			elems *= int64(d)
		}
		shape := shapes.Make(e.DType, e.Dims...)
		if int64(shape.Memory()) != e.Bytes {
			return nil, fmt.Errorf("variable %s/%s: %d bytes do not fit shape %s", e.Scope, e.Name, e.Bytes, shape)
		}
		t := tensors.FromShape(shape)
		var rerr error
		if err := t.MutableBytes(func(data []byte) {
			if _, rerr = f.ReadAt(data, e.Offset); rerr == io.EOF {
				rerr = nil
			}
			if rerr == nil && crc32.ChecksumIEEE(data) != e.CRC32 {
				rerr = fmt.Errorf("checksum mismatch")
			}
		}); err != nil {
			return nil, err
		}
		if rerr != nil {
			return nil, fmt.Errorf("variable %s/%s: %w", e.Scope, e.Name, rerr)
		}
		ctx.InAbsPath(e.Scope).Checked(false).VariableWithValue(e.Name, t).SetTrainable(e.Trainable)
	}
	return ctx, nil
}
