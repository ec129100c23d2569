package procwiretest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/procwire/procwire-go"
	"github.com/procwire/procwire-go/procwiretest"
)

// A handler tested without a child process or Node: New wires a parent to
// the worker in-process.
func ExampleNew() {
	t := &testing.T{} // in a real test, the *testing.T of the test function
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "greet", func(ctx context.Context, name string) (string, error) {
		return "hello, " + name, nil
	})
	p := procwiretest.New(t, w)
	defer p.Close()

	var greeting string
	if err := p.Call(context.Background(), "greet", "Ada", &greeting); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(greeting)
	// Output: hello, Ada
}
