package eval

import (
	"fmt"
	"math"
)

// Matrix is a dense row-major float32 matrix holding one embedding per row.
type Matrix struct {
	Rows, Dim int
	Data      []float32 // len Rows*Dim
}

// NewMatrix returns a zero matrix of rows embeddings of dim values.
func NewMatrix(rows, dim int) *Matrix {
	return &Matrix{Rows: rows, Dim: dim, Data: make([]float32, rows*dim)}
}

// MatrixFromRows copies rows (all of the same, non-zero length) into a Matrix.
func MatrixFromRows(rows [][]float32) (*Matrix, error) {
	if len(rows) == 0 {
		return &Matrix{}, nil
	}
	dim := len(rows[0])
	if dim == 0 {
		return nil, fmt.Errorf("matrix: row 0 is empty")
	}
	m := NewMatrix(len(rows), dim)
	for i, r := range rows {
		if len(r) != dim {
			return nil, fmt.Errorf("matrix: row %d has %d values, row 0 has %d", i, len(r), dim)
		}
		copy(m.Row(i), r)
	}
	return m, nil
}

// Row returns row i (aliasing the matrix's storage).
func (m *Matrix) Row(i int) []float32 { return m.Data[i*m.Dim : (i+1)*m.Dim : (i+1)*m.Dim] }

// Append adds one row; the first row of an empty matrix sets Dim.
func (m *Matrix) Append(row []float32) error {
	if m.Rows == 0 && m.Dim == 0 {
		if len(row) == 0 {
			return fmt.Errorf("matrix: empty row")
		}
		m.Dim = len(row)
	}
	if len(row) != m.Dim {
		return fmt.Errorf("matrix: row of %d values, want %d", len(row), m.Dim)
	}
	m.Data = append(m.Data, row...)
	m.Rows++
	return nil
}

// Check reports the first structural problem or non-finite value.
func (m *Matrix) Check() error {
	if m == nil {
		return fmt.Errorf("matrix: nil")
	}
	if m.Rows < 0 || m.Dim < 0 || len(m.Data) != m.Rows*m.Dim {
		return fmt.Errorf("matrix: %d×%d with %d values", m.Rows, m.Dim, len(m.Data))
	}
	for i, v := range m.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("matrix: row %d holds a non-finite value (%v)", i/max(m.Dim, 1), v)
		}
	}
	return nil
}

// Normalized returns a copy whose rows have unit L2 norm. All-zero rows stay zero (their cosine
// similarity with everything is 0, so they tie with every other candidate rather than win); their
// count is returned so callers can warn.
func (m *Matrix) Normalized() (out *Matrix, zeroRows int) {
	out = &Matrix{Rows: m.Rows, Dim: m.Dim, Data: make([]float32, len(m.Data))}
	copy(out.Data, m.Data)
	for i := range out.Rows {
		if !normalize(out.Row(i)) {
			zeroRows++
		}
	}
	return out, zeroRows
}

// normalize scales v to unit L2 norm in place (accumulating in float64); false if v is all zeros.
func normalize(v []float32) bool {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return false
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return true
}

// Normalize scales v to unit L2 norm in place; an all-zero v is left as is and false is returned.
func Normalize(v []float32) bool { return normalize(v) }

// Cosine is the cosine similarity of a and b (0 when either is all zeros).
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("eval: cosine of %d- and %d-vectors", len(a), len(b)))
	}
	var ab, aa, bb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// dot is the float32 inner product with four accumulators (the compiler keeps them in registers).
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
