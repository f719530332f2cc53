package gomlxfix

// UseAVX512Tiles switches the AVX-512 tiles on or off (where the CPU has them) for the external
// tests and benchmarks, and returns the previous setting.
func UseAVX512Tiles(on bool) (previous bool) {
	previous = useAVX512Tiles
	useAVX512Tiles = on && hasAVX512Tiles
	return previous
}
