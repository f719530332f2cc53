//go:build !amd64 || purego

package gomlxfix

// Without the assembly loops (other architectures, -tags purego) the Go loops do everything.

var useAsmOps = false

func binaryRunAsm(op binaryOp, c, a []float32, da int, b []float32, db int) int { return 0 }

func expRunAsm(dst, src []float32) int { return 0 }

func sigmoidRunAsm(dst, src []float32) int { return 0 }

// sumRun returns the sum of x, in order.
func sumRun(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += v
	}
	return s
}
