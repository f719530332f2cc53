// Package gomlxfix works around defects of GoMLX v0.26.0 (the newest version served) from wit's own
// code, without forking GoMLX. Import it (even as `_`) before building any graph: its init replaces
// entries of graph.VJPRegistration and of simplego's executor tables, and sets GOMLX_NO_AUTO_INSTALL.
//
//   - DotGeneral/Dot VJP: GoMLX differentiates a DotGeneral by broadcasting both operands to an outer
//     product ([B,T,out,in] for a Dense layer) and reducing it. DotGeneralVJP writes each operand's
//     gradient as one DotGeneral plus a transpose. The node's axes live in an unexported struct: they
//     are read by reflection (no unsafe) and checked against node.Shape(); any mismatch (a future
//     GoMLX) falls back to the saved original VJP, so it is slow, never wrong (DotVJPFallbacks).
//   - Slice VJP: GoMLX's uses Pad, which the pure-Go backend lacks; SliceVJP writes the unit-stride
//     case as a concatenation with zeros (strided slices fall back). The model still keeps Slice off
//     its differentiable paths where a one-hot product is as cheap (EOT pooling).
//   - Backend: NewBackend returns the pure-Go backend with SimpleGoConfig ("ops_sequential"), which
//     does not deadlock on 2 cores. The XLA backend exists only with the `xla` build tag (NewXLA,
//     loading a PJRT plugin by absolute path), so default builds and tests never load or download one.
//   - Kernels: GoMLX's pure-Go float32 DotGeneral is scalar Go (about 3 GFLOP/s a core), and its
//     elementwise ops walk every element with an index iterator on one core. On CPUs with AVX2 and
//     FMA, KernelFast (the default; SetKernel, $WIT_GOMLX_KERNEL) replaces simplego's executors for
//     float32 DotGeneral, arithmetic, exp, sigmoid, sums, maxima, transposes and broadcasts
//     (go:linkname into simplego's executor table, each falling back to GoMLX's for what it does not
//     take). A DotGeneral's operands are read as strided matrices where they lie; B is packed into
//     16-column panels; assembly tiles (kernel_amd64.s) keep 6×16 of C in registers; rows or
//     columns are split over the cores. KernelBlock instead plugs the same tiles into GoMLX's own
//     blocked DotGeneral as its 32×32 block kernel. `-tags purego` runs the tiles and loops in Go.
//     Ops are split over the cores by parallelFor (workers.go): GOMAXPROCS−1 worker goroutines that
//     stay running for DefaultWorkerSpin after each task (yielding to other goroutines), so that the
//     next op's chunks are taken at once instead of after the OS has woken a thread; the caller
//     takes chunks too, never waits for a worker that has not started, and spins as briefly for
//     the last chunks ($WIT_GOMLX_SPIN or SetWorkerSpin change the spin; 0 sleeps at once). When
//     other processes take the cores (a worker's thread preempted while the caller waits for its
//     chunk), spinning stops and calls run on the caller alone for a while ("solo mode").
//   - Tracing: while a runtime/trace execution trace runs, every simplego op executes inside a
//     trace region named after its op type and shape, parallelFor inside a "par:" region and idle
//     workers inside an "idle:" region; internal/parprof reads them into the step's parallelism and
//     its serial parts (BenchmarkTrain and BenchmarkTrainStepKernels report it).
//     The linknames describe GoMLX v0.26.0's tables: a binary built with another GoMLX keeps
//     GoMLX's executors (and TestGoMLXVersionPinned fails until they are checked again).
//
// # Backends
//
// Default builds use only the pure-Go backend (no cgo): NewBackend, configurable with
// $WIT_GOMLX_CONFIG (a simplego config string). For GPUs, build with `-tags xla` and call
// NewXLA(path) or set $WIT_PJRT_PLUGIN to the plugin's absolute path, e.g. the xla_cuda_plugin.so
// inside the Python wheel jax-cuda13-pjrt 0.11.2. The tagged build needs GoMLX's go-xla module in
// go.mod (`go get github.com/gomlx/go-xla@v0.1.4`, the version gomlx v0.26.0 requires); it is left out
// of go.mod so default builds do not carry it. NewXLA switches GoMLX's plugin auto-install off.
package gomlxfix
