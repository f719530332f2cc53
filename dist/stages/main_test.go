package stages

import (
	"os"
	"testing"

	"github.com/witdata/wit/dist/disttest"
)

// The distributed tests' workers are the wit binary, built once for this test process
// (disttest.StartWorkers); Main removes it when the tests end.
func TestMain(m *testing.M) {
	os.Exit(disttest.Main(m))
}
