package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/witdata/wit/internal/atomicfile"
)

// Run folder file names.
const (
	MetricsFile = "metrics.jsonl"
	LossPlot    = "loss.png"
)

// Metrics is one line of metrics.jsonl.
type Metrics struct {
	Step          int64   `json:"step"`            // optimizer steps completed
	Loss          float64 `json:"loss"`            // mean training loss over the steps since the previous line
	LR            float64 `json:"lr"`              // learning rate of this step
	LogitScale    float64 `json:"logit_scale"`     // exp(logit_scale): CLIP's temperature⁻¹ (≤ 100)
	SamplesPerSec float64 `json:"samples_per_sec"` // pairs per second since the previous line
	Epoch         float64 `json:"epoch"`           // fractional epochs of data consumed
	DataWaitFrac  float64 `json:"data_wait_frac"`  // share of wall time spent waiting for the loader
	Corrupt       int64   `json:"corrupt_images"`  // corrupt images skipped so far in this process
	ElapsedSec    float64 `json:"elapsed_s"`       // wall time of this process's training so far
}

// ReadMetrics reads metrics.jsonl (missing file: none). A torn last line (a crash mid-write) is
// dropped.
func ReadMetrics(path string) ([]Metrics, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	var out []Metrics
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m Metrics
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// metricsLog appends to metrics.jsonl and keeps the points for the loss plot.
type metricsLog struct {
	path   string
	f      *os.File
	points []Metrics
}

// openMetrics keeps only the lines up to step (a resumed run rewrites what followed its
// checkpoint), atomically, and opens the file for appending.
func openMetrics(runDir string, upTo int64) (*metricsLog, error) {
	path := filepath.Join(runDir, MetricsFile)
	old, err := ReadMetrics(path)
	if err != nil {
		return nil, err
	}
	var keep []Metrics
	var buf bytes.Buffer
	for _, m := range old {
		if m.Step <= upTo {
			keep = append(keep, m)
			line, _ := json.Marshal(m)
			buf.Write(append(line, '\n'))
		}
	}
	if len(old) > 0 {
		if err := atomicfile.WriteFile(path, buf.Bytes()); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &metricsLog{path: path, f: f, points: keep}, nil
}

func (l *metricsLog) add(m Metrics) error {
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	l.points = append(l.points, m)
	return nil
}

func (l *metricsLog) close() error { return l.f.Close() }

// WriteLossPlot renders the loss curve of points as a PNG at path, atomically.
func WriteLossPlot(path, title string, points []Metrics) error {
	if len(points) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "contrastive loss"
	p.Y.Tick.Marker = preciseTicks{}
	xys := make(plotter.XYs, len(points))
	for i, m := range points {
		xys[i] = plotter.XY{X: float64(m.Step), Y: m.Loss}
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("loss plot: %w", err)
	}
	p.Add(line, plotter.NewGrid())
	w, err := p.WriterTo(8*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("loss plot: %w", err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return fmt.Errorf("loss plot: %w", err)
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}

// preciseTicks is plot.DefaultTicks with labels precise enough to tell neighbouring ticks apart
// (the default rounds 3.45 and 3.55 both to "3.5" on a narrow range).
type preciseTicks struct{}

func (preciseTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', 4, 64)
		}
	}
	return ticks
}
