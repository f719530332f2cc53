package shards

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/witdata/wit/internal/storage"
)

// Names of the dataset-level files beside the shards.
const (
	ManifestName = "manifest.json" // Manifest: schema version, per-shard counts and bytes, totals
	SizesName    = "sizes.json"    // OpenCLIP's sizes file: {"00000.arrow": count, ...}
)

// ShardInfo is one shard file in a Manifest.
type ShardInfo struct {
	File  string `json:"file"`  // base name, "00000.arrow"
	Count int64  `json:"count"` // rows (samples)
	Bytes int64  `json:"bytes"` // file size
}

// Manifest describes a directory of sample shards: what a trainer needs to know before reading
// them (how many samples, which files) without opening every file.
type Manifest struct {
	SchemaVersion int         `json:"schema_version"`
	Shards        []ShardInfo `json:"shards"` // sorted by file number
	TotalCount    int64       `json:"total_count"`
	TotalBytes    int64       `json:"total_bytes"`
}

// Add records a shard (replacing an entry for the same file), keeps the list sorted by file
// number and updates the totals.
func (m *Manifest) Add(s ShardInfo) {
	i, found := slices.BinarySearchFunc(m.Shards, s.File, func(e ShardInfo, file string) int {
		return compareShardNames(e.File, file)
	})
	if found {
		m.Shards[i] = s
	} else {
		m.Shards = slices.Insert(m.Shards, i, s)
	}
	m.recount()
}

func (m *Manifest) recount() {
	m.TotalCount, m.TotalBytes = 0, 0
	for _, s := range m.Shards {
		m.TotalCount += s.Count
		m.TotalBytes += s.Bytes
	}
}

func compareShardNames(a, b string) int {
	ia, oka := FileIndex(a)
	ib, okb := FileIndex(b)
	if oka && okb && ia != ib {
		return ia - ib
	}
	return strings.Compare(a, b)
}

// Sizes returns the OpenCLIP sizes map (file name -> sample count).
func (m *Manifest) Sizes() map[string]int64 {
	out := make(map[string]int64, len(m.Shards))
	for _, s := range m.Shards {
		out[s.File] = s.Count
	}
	return out
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	path := storage.Join(dir, ManifestName)
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("shards: read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("shards: manifest %s: %w", path, err)
	}
	if m.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("shards: manifest %s has schema version %d, this wit reads up to %d", path, m.SchemaVersion, SchemaVersion)
	}
	return &m, nil
}

// WriteManifest writes dir/manifest.json and dir/sizes.json, each atomically. The totals are
// recomputed from the shard list and SchemaVersion is set when zero.
func WriteManifest(dir string, m *Manifest) error {
	if m.SchemaVersion == 0 {
		m.SchemaVersion = SchemaVersion
	}
	if m.Shards == nil {
		m.Shards = []ShardInfo{}
	}
	slices.SortFunc(m.Shards, func(a, b ShardInfo) int { return compareShardNames(a.File, b.File) })
	m.recount()
	if err := writeJSON(storage.Join(dir, ManifestName), m); err != nil {
		return err
	}
	return writeJSON(storage.Join(dir, SizesName), m.Sizes())
}

// BuildManifest scans the committed shard files of dir. A file's row count comes from its
// NNNNN_stats.json when that names the same size; otherwise the file is opened and counted
// (reading every batch), so a manifest can be rebuilt for any directory of sample shards.
func BuildManifest(dir string) (*Manifest, error) { return BuildManifestFunc(dir, nil) }

// BuildManifestFunc is BuildManifest over the shard files of dir whose names keep reports true
// (nil: all), for a folder that several writers share, each with its own shard numbers.
func BuildManifestFunc(dir string, keep func(name string) bool) (*Manifest, error) {
	files, err := ListFiles(dir)
	if err != nil {
		return nil, err
	}
	if keep != nil {
		files = slices.DeleteFunc(files, func(f string) bool { return !keep(storage.Base(f)) })
	}
	m := &Manifest{SchemaVersion: SchemaVersion, Shards: make([]ShardInfo, 0, len(files))}
	sizes := map[string]int64{}
	if entries, err := listEntries(dir); err == nil {
		for _, e := range entries {
			sizes[e.Name] = e.Size
		}
	}
	for _, path := range files {
		name := storage.Base(path)
		size, ok := sizes[name]
		if !ok {
			return nil, fmt.Errorf("shards: %s vanished while the manifest was built", path)
		}
		info := ShardInfo{File: name, Bytes: size, Count: -1}
		if idx, ok := FileIndex(path); ok {
			if ss, err := ReadShardStats(storage.Join(dir, StatsName(idx))); err == nil && ss.Bytes == size && ss.File == info.File {
				info.Count = ss.Successes
			}
		}
		if info.Count < 0 {
			f, err := Open(path)
			if err != nil {
				return nil, err
			}
			n, err := f.NumRows()
			f.Close()
			if err != nil {
				return nil, err
			}
			info.Count = n
		}
		m.Shards = append(m.Shards, info)
	}
	m.recount()
	return m, nil
}

// ShardStats is the per-shard record "NNNNN_stats.json" written beside "NNNNN.arrow" (the fields of
// img2dataset's stats plus what resuming needs). A record with an empty File holds failures only:
// items that all failed after the last shard of a run was committed.
type ShardStats struct {
	File      string           `json:"file,omitempty"` // shard file name; "" for a failures-only record
	Count     int64            `json:"count"`          // items accounted for: successes + failures
	Successes int64            `json:"successes"`      // rows in File
	Failures  map[string]int64 `json:"failures"`       // failed items by reason
	Bytes     int64            `json:"bytes"`          // size of File
	// DownloadedBytes is what was received for the items of this record, successful or not.
	DownloadedBytes int64     `json:"downloaded_bytes,omitempty"`
	DurationS       float64   `json:"duration_s"` // from the first to the last item of the shard
	StartTime       time.Time `json:"start_time"`
	EndTime         time.Time `json:"end_time"`
	FailedFile      string    `json:"failed_file,omitempty"` // NNNNN_failed.jsonl: one JSON object per failed item
	// InputRanges lists the input positions accounted for by this record as half-open
	// [start, end) ranges; a resumed run skips them.
	InputRanges [][2]int64 `json:"input_ranges,omitempty"`
}

// StatsName returns the name of shard index's stats record ("00012_stats.json").
func StatsName(index int) string { return fmt.Sprintf("%05d_stats.json", index) }

// FailedName returns the name of shard index's failed-items list ("00012_failed.jsonl").
func FailedName(index int) string { return fmt.Sprintf("%05d_failed.jsonl", index) }

// StatsIndex returns the shard number of a stats record's name ("00012_stats.json" -> 12).
func StatsIndex(name string) (int, bool) {
	name = storage.Base(name)
	num, ok := strings.CutSuffix(name, "_stats.json")
	if !ok || len(num) < 5 {
		return 0, false
	}
	n := 0
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// ReadShardStats reads one NNNNN_stats.json.
func ReadShardStats(path string) (*ShardStats, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	var s ShardStats
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("shards: stats %s: %w", path, err)
	}
	return &s, nil
}

// writeJSON writes v as indented JSON to path (a local path or an object-store URL) atomically:
// readers see the old content or the new one, never a mix (internal/storage).
func writeJSON(path string, v any) error {
	if err := storage.WriteJSON(context.Background(), path, v); err != nil {
		return fmt.Errorf("shards: %w", err)
	}
	return nil
}

// CleanAtomicTemp removes the temporary files of JSON and JSONL files (stats records, manifests,
// failed-item lists: "*.json.tmp-*", "*.jsonl.tmp-*") that a killed run left in dir.
func CleanAtomicTemp(dir string) error {
	return removeStale(dir, func(name string) bool {
		return strings.Contains(name, ".json"+tempMarker) || strings.Contains(name, ".jsonl"+tempMarker)
	})
}
