package querymatch

import (
	"runtime"
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on Linux (x86-64 and
// arm64 with 4 KiB base pages).
const hugePage = 2 << 20

// allocTable returns n zero values of T, T free of pointers, for a table
// that owner keeps. Tables of 512 KB and more are mapped on their own and
// marked for transparent huge pages: the matcher's look-ups land on random
// pages, and with 4 KiB pages many of them would also miss the TLB (a 16 MB
// table spans 4,096 pages, far more than the TLB holds; even the 512 KB
// Bloom filter's 128 pages, looked up for nearly every token, gained 1.04-
// 1.09x from one huge page). The mapping is released
// when owner is collected; methods that read a table keep owner alive
// until they are done (runtime.KeepAlive). Where the kernel refuses, the
// table comes from the Go heap.
func allocTable[T any](owner *Matcher, n int) []T {
	var zero T
	size := n * int(unsafe.Sizeof(zero))
	if size < hugePage/4 { // smaller tables are not worth a 2 MB page
		return make([]T, n)
	}
	// Whole huge pages, 2 MB-aligned: the kernel backs an aligned 2 MB
	// range of a MADV_HUGEPAGE mapping with a huge page only when all of
	// it is in the range advised.
	pages := (size + hugePage - 1) / hugePage * hugePage
	mem, err := syscall.Mmap(-1, 0, pages+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]T, n)
	}
	off := (hugePage - int(uintptr(unsafe.Pointer(&mem[0]))%hugePage)) % hugePage
	_ = syscall.Madvise(mem[off:off+pages], syscall.MADV_HUGEPAGE) // a hint: without it the table still works
	table := mem[off : off+size]
	runtime.AddCleanup(owner, func(mem []byte) { _ = syscall.Munmap(mem) }, mem)
	return unsafe.Slice((*T)(unsafe.Pointer(&table[0])), n)
}
