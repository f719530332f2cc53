// Package s3test starts an S3-protocol server in the test process (gofakes3 with its in-memory
// backend, behind httptest on 127.0.0.1) and points the AWS SDK at it with static credentials, so
// that storage's s3:// code runs against a real S3 wire protocol without reaching any network.
package s3test

import (
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a running in-process S3 server.
type Server struct {
	HTTP    *httptest.Server
	Backend *s3mem.Backend
}

// Start starts a server with one bucket and returns it with the bucket's base URL
// ("s3://bucket?endpoint=...&region=us-east-1&use_path_style=true"). The AWS SDK is configured
// through t.Setenv: static credentials, no shared config files, no instance metadata lookups.
// The server stops when the test ends.
func Start(t testing.TB, bucket string) (*Server, string) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("s3test: create bucket: %v", err)
	}
	faker := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)
	SetEnv(t)
	q := url.Values{}
	q.Set("endpoint", srv.URL)
	q.Set("region", "us-east-1")
	q.Set("use_path_style", "true")
	return &Server{HTTP: srv, Backend: backend}, "s3://" + bucket + "?" + q.Encode()
}

// SetEnv gives the AWS SDK static credentials and keeps it off every real AWS endpoint, shared
// config file and the instance metadata service for the rest of the test.
func SetEnv(t testing.TB) {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "aws-empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "wit-test",
		"AWS_SECRET_ACCESS_KEY":       "wit-test-secret",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "us-east-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             empty,
		"AWS_SHARED_CREDENTIALS_FILE": empty,
	} {
		t.Setenv(k, v)
	}
}

// Keys returns the keys of every object in bucket, sorted: what a test lists to show that a run
// left no stray objects.
func (s *Server) Keys(t testing.TB, bucket string) []string {
	t.Helper()
	var keys []string
	page := gofakes3.ListBucketPage{}
	for {
		list, err := s.Backend.ListBucket(bucket, nil, page)
		if err != nil {
			t.Fatalf("s3test: list %s: %v", bucket, err)
		}
		for _, c := range list.Contents {
			keys = append(keys, c.Key)
		}
		if !list.IsTruncated || len(list.Contents) == 0 {
			break
		}
		page = gofakes3.ListBucketPage{Marker: list.Contents[len(list.Contents)-1].Key, HasMarker: true}
	}
	slices.Sort(keys)
	return keys
}
