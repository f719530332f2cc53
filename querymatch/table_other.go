//go:build !linux

package querymatch

// allocTable returns n zero values of T for a table that owner keeps (on
// Linux, large tables are put on huge pages: see table_linux.go).
func allocTable[T any](owner *Matcher, n int) []T {
	return make([]T, n)
}
