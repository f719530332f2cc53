//go:build !purego

package inflate

import "golang.org/x/sys/cpu"

// haveFastAsm reports whether decodeBlock's fast loop runs in assembly (fast_amd64.s; it needs
// BMI2's shifts). TestFastAsmSameAsGo holds it to decodeBlockGo's results.
var haveFastAsm = cpu.X86.HasBMI2

//go:noescape
func decodeFastBMI2(s *fastState, litlen *[litlenEnough]uint32, dist *[distEnough]uint32) int
