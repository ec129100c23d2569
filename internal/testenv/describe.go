package testenv

import (
	"bytes"
	"os/exec"
	"testing"

	"github.com/procwire/procwire-go/contract"
)

// Describe runs the worker executable with PROCWIRE_DESCRIBE=1 and returns
// the contract it prints and that contract's JSON, failing t if the worker
// fails or prints no valid contract.
func Describe(t testing.TB, worker string) (*contract.Contract, []byte) {
	t.Helper()
	cmd := exec.Command(worker)
	cmd.Env = WorkerEnv(contract.DescribeEnv + "=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s with %s=1: %v\n%s", worker, contract.DescribeEnv, err, stderr.String())
	}
	c, err := contract.Parse(raw)
	if err != nil {
		t.Fatalf("the contract that %s printed: %v", worker, err)
	}
	return c, raw
}
