package stages

import (
	"context"
	"path"
	"strings"
	"testing"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
)

// storageKinds are the two kinds of location a distributed job writes to: a path on a file
// system every worker shares, and a folder in an S3 bucket (the in-process server of s3test;
// the worker processes inherit its credentials from the environment).
var storageKinds = []string{"shared", "s3"}

const testBucket = "wit-dist"

// testStorage is where a test's outputs go: under a local directory, or in a bucket.
type testStorage struct {
	local string
	s3    *s3test.Server
	base  string // the bucket's URL
}

func newTestStorage(t *testing.T, kind string) *testStorage {
	t.Helper()
	ts := &testStorage{local: t.TempDir()}
	if kind == "s3" {
		ts.s3, ts.base = s3test.Start(t, testBucket)
	}
	return ts
}

// loc is the location of name: a local path, or a URL in the bucket.
func (ts *testStorage) loc(name string) string {
	if ts.s3 == nil {
		return storage.Join(ts.local, name)
	}
	return storage.Join(ts.base, name)
}

// strayKeys returns the bucket's keys that ok refuses (nil for local storage): what a job left
// behind that is not part of its output.
func (ts *testStorage) strayKeys(t *testing.T, ok func(key string) bool) []string {
	t.Helper()
	if ts.s3 == nil {
		return nil
	}
	var stray []string
	for _, k := range ts.s3.Keys(t, testBucket) {
		if !ok(k) {
			stray = append(stray, k)
		}
	}
	return stray
}

// readLoc reads the file at loc, failing the test when it cannot.
func readLoc(t *testing.T, loc string) []byte {
	t.Helper()
	data, err := storage.ReadFile(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// keyIn reports whether key lies in folder dir of the bucket and its name (the rest of the key)
// is one names accepts.
func keyIn(key, dir string, names func(rest string) bool) bool {
	rest, ok := strings.CutPrefix(key, dir+"/")
	return ok && names(rest)
}

// topLevel accepts names directly in a folder that base accepts.
func topLevel(base func(name string) bool) func(string) bool {
	return func(rest string) bool { return !strings.Contains(rest, "/") && base(path.Base(rest)) }
}
