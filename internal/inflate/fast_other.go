//go:build !amd64 || purego

package inflate

// haveFastAsm is false: decodeBlock's fast loop runs in Go (decodeBlockGo).
var haveFastAsm = false

func decodeFastBMI2(*fastState, *[litlenEnough]uint32, *[distEnough]uint32) int {
	panic("inflate: no assembly fast loop in this build")
}
