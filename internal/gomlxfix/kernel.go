package gomlxfix

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"runtime/debug"
	"sync/atomic"
	_ "unsafe" // go:linkname

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Kernel selects the float32 matrix product simplego's DotGeneral runs. GoMLX v0.26.0's own is
// scalar Go (about 3 GFLOP/s a core); the tiles of gemm.go use the CPU's AVX2 + FMA units.
type Kernel int32

const (
	// KernelFast replaces simplego's float32 DotGeneral: the operands are read where they lie
	// (strided), B is packed into panels, the tiles write C directly, rows are split over the cores.
	// Layouts it cannot read as strided matrices go to GoMLX's DotGeneral with KernelBlock's kernel.
	// It also replaces the float32 elementwise ops, reductions, transposes and broadcasts that
	// dominate a step once the products are fast (elementwise.go).
	KernelFast Kernel = iota
	// KernelFastDot is KernelFast's DotGeneral with GoMLX's own elementwise ops.
	KernelFastDot
	// KernelBlock keeps GoMLX's DotGeneral (its copies into 32×32 blocks, its scheduling) and runs
	// the tiles as the block kernel of its "large" path; its "small" path stays GoMLX's.
	KernelBlock
	// KernelGoMLX is GoMLX's own DotGeneral, untouched.
	KernelGoMLX
)

// EnvKernel selects the kernel at start-up: "fast", "fastdot", "block" or "gomlx" (see Kernel). The default is
// "fast" where the CPU has AVX2 and FMA (and the build has the assembly), "gomlx" elsewhere: the
// tiles' portable Go version is slower than GoMLX's own kernel.
const EnvKernel = "WIT_GOMLX_KERNEL"

var kernelNames = [...]string{KernelFast: "fast", KernelFastDot: "fastdot", KernelBlock: "block", KernelGoMLX: "gomlx"}

func (k Kernel) String() string {
	if k >= 0 && int(k) < len(kernelNames) {
		return kernelNames[k]
	}
	return fmt.Sprintf("Kernel(%d)", int32(k))
}

// ParseKernel reads a kernel name as EnvKernel takes it.
func ParseKernel(s string) (Kernel, error) {
	for k, name := range kernelNames {
		if s == name {
			return Kernel(k), nil
		}
	}
	return 0, fmt.Errorf("unknown GoMLX kernel %q (want fast, fastdot, block or gomlx)", s)
}

var currentKernel atomic.Int32

// SetKernel selects the kernel for every DotGeneral executed from now on (compiled graphs too) and
// returns the previous one. Benchmarks use it to compare kernels in one process.
func SetKernel(k Kernel) (previous Kernel) {
	if k < 0 || int(k) >= len(kernelNames) {
		panic(fmt.Sprintf("gomlxfix: unknown kernel %d", int32(k)))
	}
	if k != KernelGoMLX && !kernelsInstalled {
		k = KernelGoMLX
	}
	return Kernel(currentKernel.Swap(int32(k)))
}

// CurrentKernel returns the kernel DotGeneral runs.
func CurrentKernel() Kernel { return Kernel(currentKernel.Load()) }

// DefaultKernel is the kernel selected at start-up without EnvKernel.
func DefaultKernel() Kernel {
	if hasAsmTiles && kernelsInstalled {
		return KernelFast
	}
	return KernelGoMLX
}

// simplegoKernels is simplego's table of block kernel builders for the large DotGeneral path
// (dotgeneral_large.go: dotGeneralKernelDTypeMap). Its float32 entry, a
// func(lhs, rhs, output *Buffer, blockDim int) kernelFuncType, is replaced by blockKernelBuilder.
//
//go:linkname simplegoKernels github.com/gomlx/gomlx/backends/simplego.dotGeneralKernelDTypeMap
var simplegoKernels *simplego.DTypeMap

// simplegoExecutor is the type of simplego's node executors (exec.go: nodeExecutor).
type simplegoExecutor = func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error)

// simplegoExecutors is simplego's table of op executors (exec.go: nodeExecutors); its DotGeneral
// entry is replaced by execDotGeneral.
//
//go:linkname simplegoExecutors github.com/gomlx/gomlx/backends/simplego.nodeExecutors
var simplegoExecutors [backends.OpTypeLast]simplegoExecutor

var (
	// gomlxBlockBuilder and gomlxDotGeneral are GoMLX's own, saved before they are replaced.
	gomlxBlockBuilder reflect.Value
	gomlxDotGeneral   simplegoExecutor
	// kernelsInstalled is false when simplego's tables did not have the expected types (another
	// GoMLX version): then only KernelGoMLX exists.
	kernelsInstalled bool
	// bufferReader reads buffers' data: simplego's BufferData only checks that its backend is not
	// finalized, and GoMLX hands the block-kernel builder no backend.
	bufferReader = new(simplego.Backend)
)

func init() {
	kernelsInstalled = installKernels()
	k := DefaultKernel()
	if v := os.Getenv(EnvKernel); v != "" {
		parsed, err := ParseKernel(v)
		if err != nil {
			slog.Warn("ignoring $"+EnvKernel, "err", err, "kernel", k)
		} else {
			k = parsed
		}
	}
	SetKernel(k)
}

// gomlxVersion is the GoMLX whose simplego tables the go:linkname declarations above describe. A
// renamed table fails the link; a retyped one would not, so with another version in the build
// nothing is installed and GoMLX's executors stay.
const gomlxVersion = "v0.26.0"

// installKernels puts the block kernel builder, execDotGeneral and the elementwise executors in
// simplego's tables. Each checks at every call which kernel is selected and hands the call to
// GoMLX's saved function otherwise.
func installKernels() bool {
	if v, ok := moduleVersion("github.com/gomlx/gomlx"); ok && v != gomlxVersion {
		slog.Warn("gomlxfix: GoMLX kernels not installed: built against another GoMLX", "version", v, "want", gomlxVersion)
		return false
	}
	if simplegoKernels == nil || int(dtypes.Float32) >= len(simplegoKernels.Map) {
		return false
	}
	orig := simplegoKernels.Map[dtypes.Float32]
	dotGeneral := simplegoExecutors[backends.OpTypeDotGeneral]
	if orig == nil || dotGeneral == nil {
		return false
	}
	builderType := reflect.TypeOf(orig)
	bufferType := reflect.TypeFor[*simplego.Buffer]()
	if builderType.Kind() != reflect.Func || builderType.NumIn() != 4 || builderType.NumOut() != 1 ||
		builderType.In(0) != bufferType || builderType.In(1) != bufferType || builderType.In(2) != bufferType ||
		builderType.In(3).Kind() != reflect.Int {
		return false
	}
	kernelType := builderType.Out(0)
	plain := reflect.TypeFor[func(lhsBlock, rhsBlock, outputBlock int)]()
	if kernelType.Kind() != reflect.Func || !plain.ConvertibleTo(kernelType) {
		return false
	}
	gomlxBlockBuilder = reflect.ValueOf(orig)
	gomlxDotGeneral = dotGeneral
	builder := reflect.MakeFunc(builderType, func(args []reflect.Value) []reflect.Value {
		if CurrentKernel() != KernelGoMLX {
			lhs, rhs, out := args[0].Interface().(*simplego.Buffer), args[1].Interface().(*simplego.Buffer), args[2].Interface().(*simplego.Buffer)
			if kernel, ok := blockKernel(lhs, rhs, out, int(args[3].Int())); ok {
				blockKernelBuilds.Add(1)
				return []reflect.Value{reflect.ValueOf(kernel).Convert(kernelType)}
			}
			blockKernelRefusals.Add(1)
		}
		return gomlxBlockBuilder.Call(args)
	})
	simplegoKernels.Map[dtypes.Float32] = builder.Interface()
	simplegoExecutors[backends.OpTypeDotGeneral] = execDotGeneral
	installOps()
	traceOps()
	return true
}

// moduleVersion returns the version of module path in this binary's build information.
func moduleVersion(path string) (string, bool) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	for _, dep := range info.Deps {
		if dep.Path == path {
			if dep.Replace != nil {
				return dep.Replace.Version, true
			}
			return dep.Version, true
		}
	}
	return "", false
}

var blockKernelBuilds, blockKernelRefusals atomic.Int64

// blockKernel returns the kernel GoMLX's large DotGeneral path calls for each triple of 32×32
// blocks (blockDim² floats each, stored one after the other in each buffer):
// output[outputBlock] += lhs[lhsBlock] · rhs[rhsBlock]ᵀ, both blocks row-major with the contracting
// axis last. GoMLX calls the builder once per DotGeneral, after copying the operands into blocks and
// before the first kernel call, so each rhs block is packed into 16-column panels here, in place
// (the blocked buffers are scratch). ok is false for anything but float32 blocks of a multiple of
// 16: the caller then uses GoMLX's kernel.
func blockKernel(lhs, rhs, out *simplego.Buffer, blockDim int) (kernel func(lhsBlock, rhsBlock, outputBlock int), ok bool) {
	l, okL := bufferFloats(lhs)
	r, okR := bufferFloats(rhs)
	o, okO := bufferFloats(out)
	size := blockDim * blockDim
	if !okL || !okR || !okO || blockDim <= 0 || blockDim%panelCols != 0 ||
		len(l)%size != 0 || len(r)%size != 0 || len(o)%size != 0 {
		return nil, false
	}
	packed := make([]float32, size)
	for i := 0; i < len(r); i += size {
		block := gemm{n: blockDim, k: blockDim, b: r[i : i+size], sbn: blockDim, sbk: 1}
		block.packB(packed, 0, blockDim, 0, blockDim)
		copy(r[i:i+size], packed)
	}
	return func(lhsBlock, rhsBlock, outputBlock int) {
		tiles(4, blockDim/4, blockDim/panelCols, blockDim, l[lhsBlock*size:], blockDim, 1,
			r[rhsBlock*size:], o[outputBlock*size:], blockDim, true)
	}, true
}

// bufferFloats returns a buffer's float32 data.
func bufferFloats(b *simplego.Buffer) ([]float32, bool) {
	if b == nil {
		return nil, false
	}
	flat, err := bufferReader.BufferData(b)
	if err != nil {
		return nil, false
	}
	f, ok := flat.([]float32)
	return f, ok
}
