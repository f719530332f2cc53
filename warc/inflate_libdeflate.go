//go:build libdeflate && cgo

package warc

/*
// Only the runtime library is needed (Debian: libdeflate0): the prototypes are declared here
// rather than taken from libdeflate.h (libdeflate-dev), and on Linux the linker is given the
// shared object's soname, which needs no libdeflate.so development link.
#cgo linux LDFLAGS: -l:libdeflate.so.0
#cgo !linux LDFLAGS: -ldeflate
#include <stddef.h>

struct libdeflate_decompressor;
struct libdeflate_decompressor *libdeflate_alloc_decompressor(void);
void libdeflate_free_decompressor(struct libdeflate_decompressor *d);
// enum libdeflate_result: 0 success, 1 bad data, 2 short output, 3 insufficient space.
int libdeflate_gzip_decompress_ex(struct libdeflate_decompressor *d,
	const void *in, size_t in_nbytes, void *out, size_t out_nbytes_avail,
	size_t *actual_in_nbytes_ret, size_t *actual_out_nbytes_ret);
*/
import "C"

import (
	"errors"
	"runtime"
	"unsafe"
)

const (
	libdeflateSuccess           = 0
	libdeflateInsufficientSpace = 3
)

var errLibdeflateBadData = errors.New("libdeflate: bad gzip member")

func init() {
	newWholeInflater = newLibdeflate
}

// libdeflate holds one decompressor (a few KiB of tables), freed when it is unreachable.
type libdeflate struct {
	d *C.struct_libdeflate_decompressor
}

func newLibdeflate() wholeInflater {
	d := C.libdeflate_alloc_decompressor()
	if d == nil {
		return nil
	}
	l := &libdeflate{d: d}
	runtime.AddCleanup(l, func(d *C.struct_libdeflate_decompressor) { C.libdeflate_free_decompressor(d) }, d)
	return l
}

func (l *libdeflate) inflateGzip(in, out []byte) (int, int, error) {
	if len(in) == 0 || len(out) == 0 {
		return 0, 0, errLibdeflateBadData
	}
	var inN, outN C.size_t
	res := C.libdeflate_gzip_decompress_ex(l.d, unsafe.Pointer(&in[0]), C.size_t(len(in)),
		unsafe.Pointer(&out[0]), C.size_t(len(out)), &inN, &outN)
	runtime.KeepAlive(l)
	switch res {
	case libdeflateSuccess:
		return int(inN), int(outN), nil
	case libdeflateInsufficientSpace:
		return 0, 0, errWholeOutputFull
	}
	return 0, 0, errLibdeflateBadData
}
