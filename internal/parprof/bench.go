package parprof

import (
	"os"
	"strings"
	"testing"
)

// OutEnv names a file for ReportBench's full tables (by op, by op and shape).
const OutEnv = "WIT_PARPROF_OUT"

// ReportBench traces steps calls of step (call it after the benchmark's timed loop) and reports
// the trace's parallelism and Amdahl bound as the metrics "parallelism" and "par_bound", and the
// share of the CPU time spent by idle workers spinning as "spin_cpu_frac"; it logs
// the ops with the most serial work, and writes the full tables to $WIT_PARPROF_OUT when set.
func ReportBench(b *testing.B, steps int, step func()) *Profile {
	b.Helper()
	p, err := Measure(func() {
		for range steps {
			step()
		}
	})
	if err != nil {
		b.Logf("no parallelism: %v", err)
		return nil
	}
	b.ReportMetric(p.Parallelism(), "parallelism")
	b.ReportMetric(p.Bound(), "par_bound")
	b.ReportMetric(float64(p.Total.Spin)/float64(max(1, p.Total.Busy+p.Total.Spin)), "spin_cpu_frac")
	var sb strings.Builder
	p.Format(&sb, 7, FirstWord, BySerial)
	b.Log(sb.String())
	if path := os.Getenv(OutEnv); path != "" {
		sb.Reset()
		p.Format(&sb, 30, FirstWord, BySerial)
		sb.WriteString("by shape:\n")
		p.Format(&sb, 60, nil, BySerial)
		sb.WriteString("by shape, idle core time:\n")
		p.Format(&sb, 40, nil, ByIdle)
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			b.Error(err)
		}
	}
	return p
}
