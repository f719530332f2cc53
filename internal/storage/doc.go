// Package storage is the one way wit stages read and write their files, whether the location is
// a local folder or a prefix in an object store.
//
// A location is a string: a local path ("work/shards", "/data/x"), a file URL
// ("file:///data/x", the same as the path) or an object-store URL
// ("s3://bucket/prefix?region=eu-west-1&endpoint=http://127.0.0.1:9000&use_path_style=true").
// s3:// reaches any S3-compatible service (AWS, MinIO, R2, Ceph, GCS's interoperability endpoint)
// through gocloud.dev/blob's s3blob driver with the AWS SDK's usual credential chain
// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, web identity, instance
// roles). The query parameters are s3blob's: region, endpoint, use_path_style, disable_https,
// profile, anonymous, request_checksum_calculation and the others gocloud documents; no
// credentials ever go into a URL. Other drivers (GCS, Azure) are not built in: they would double
// the dependency tree, and S3 interoperability covers those services.
//
// Open gives a Dir for a location; every stage goes through the Dir interface: Create, Open,
// Stat, List, Delete, Sub. Join, Base and Parent build locations of files inside a Dir, and
// ReadFile, WriteFile, WriteJSON, OpenFile and Stat act on a file's location directly, so code
// that passes path strings around keeps doing so with URLs.
//
// # Atomicity
//
// A file created with Dir.Create appears under its name only when Commit succeeds, complete;
// Abort (or an error) leaves nothing. On local disk that is internal/atomicfile: a temporary file
// "NAME.tmp-*" beside it, fsynced and renamed (a killed process can leave the temporary file,
// which the stages remove on their next run). On object storage the bytes stream to the service
// (multipart above the part size) and the object is created by the final request: there are no
// temporary objects, and a killed process leaves nothing visible (at most an incomplete multipart
// upload, which the store does not list and a lifecycle rule reaps). CreateStaged writes through
// a local temporary file first, for a caller that must record a durable file before it becomes
// visible (the crawler's exactly-once protocol); MoveIn finishes such a commit after a crash.
//
// A whole folder that must appear at once (filter's output) is an Output: on local disk built
// beside its path and renamed into place; on object storage written under its final names with a
// marker object (IncompleteMarker) that is written first and deleted last. Readers that list a
// folder (shards.ListFiles) refuse one that holds the marker.
//
// # Reading
//
// Readers are io.ReaderAt and io.ReadSeeker (Arrow IPC files need both). A remote reader serves
// reads from two windows fetched with range requests: the file's last 64 KiB (footers) and a
// sequential read-ahead window of 8 MiB. A Prefetcher downloads the files a reader will open
// next into local temporary files while the current one is read, which is how the training
// loader keeps up from a bucket.
package storage
