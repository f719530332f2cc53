package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/cc"
	"github.com/witdata/wit/dist"
	"github.com/witdata/wit/internal/storage"
)

// KindCC is one task per input file of a Common Crawl list (cc.ProcessFile, its index naming its
// pair file and done marker, so a redelivered task overwrites the same names or finds its marker).
const KindCC = "cc"

type CCSpec struct {
	Options cc.Options `yaml:"options"` // Out and State absolute, on shared storage
}

type ccTask struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
}

// SubmitCC expands the inputs (paths lists resolved against base) and submits one task each.
func SubmitCC(ctx context.Context, c *dist.Conn, opts cc.Options, in []string, base string) (*dist.JobRecord, error) {
	// Out and State must be where every worker sees them: a shared path or an object-store URL.
	for _, p := range []*string{&opts.Out, &opts.State} {
		if *p == "" || storage.IsRemote(*p) {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	if opts.Out == "" {
		return nil, errors.New("submit cc: --out is required")
	}
	if opts.State == "" {
		opts.State = storage.Join(opts.Out, ".cc-state") // shared, unlike wit cc's local default
	}
	opts.Workers = 1 // one input per task; parallelism is the number of worker slots
	var tasks []json.RawMessage
	for input, err := range cc.Inputs(ctx, in, base, cc.NewOpener(opts.AllowPrivate, 1, opts.HTTPTimeout)) {
		if err != nil {
			return nil, err
		}
		t, _ := json.Marshal(ccTask{Name: input.Name, Index: input.Index})
		tasks = append(tasks, t)
	}
	spec := CCSpec{Options: opts}
	spec.Options.Open, spec.Options.Logger, spec.Options.Progress = nil, nil, nil
	text, err := yaml.Marshal(&spec)
	if err != nil {
		return nil, err
	}
	return c.Submit(ctx, dist.Submission{Kind: KindCC, Spec: string(text), Tasks: tasks})
}

func decodeCCSpec(text string) (*CCSpec, error) {
	var spec CCSpec
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&spec); err != nil {
		return nil, dist.Permanent(fmt.Errorf("cc job spec: %w", err))
	}
	return &spec, nil
}

func runCCTask(ctx context.Context, t *dist.Task) (any, error) {
	spec, err := decodeCCSpec(t.Job.Spec)
	if err != nil {
		return nil, err
	}
	var in ccTask
	if err := t.DecodeInput(&in); err != nil {
		return nil, err
	}
	opts := spec.Options
	if err := t.CheckPrivate(opts.AllowPrivate); err != nil {
		return nil, err
	}
	opts.Logger = t.Log
	return cc.ProcessFile(ctx, opts, cc.Input{Name: in.Name, Index: in.Index})
}

// finalizeCC writes cc-stats.json: the files' counters added up (as Run's sumMarkers does).
func finalizeCC(ctx context.Context, f *dist.Final) (any, error) {
	spec, err := decodeCCSpec(f.Job.Spec)
	if err != nil {
		return nil, err
	}
	var st cc.Stats
	for id, o := range f.Outcomes {
		if o.State != dist.StateDone {
			st.FilesFailed++
			st.Failed = append(st.Failed, id+": "+o.Error)
			continue
		}
		var fs cc.FileStats
		if err := json.Unmarshal(o.Result, &fs); err != nil {
			return nil, dist.Permanent(err)
		}
		st.Files++
		st.Add(&fs.Counters)
		if fs.Truncated {
			st.FilesTruncated++
			st.TruncatedFiles = append(st.TruncatedFiles, fs.Input)
		}
	}
	return st, storage.WriteJSON(ctx, storage.Join(spec.Options.Out, cc.StatsFile), &st)
}
