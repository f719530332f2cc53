package stages

import (
	"os"
	"testing"

	"github.com/witdata/wit/dist/disttest"
)

func TestMain(m *testing.M) {
	disttest.WorkerMain() // a worker process started by disttest.StartWorkers runs here and exits
	os.Exit(m.Run())
}
