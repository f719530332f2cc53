//go:build libdeflate && !cgo

package warc

// The build tag libdeflate needs cgo (CGO_ENABLED=1 and a C compiler): this stops the build
// instead of quietly building without libdeflate.
var _ = libdeflate_build_tag_needs_cgo_and_a_C_compiler
