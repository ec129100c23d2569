package procwiretest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

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

// A test that its handler saw the abort: Handled waits until the handler
// has returned and says how it ended.
func ExampleParent_Handled() {
	t := &testing.T{} // in a real test, the *testing.T of the test function
	w := procwire.NewWorker(procwire.Options{})
	procwire.Handle(w, "sleep", func(ctx context.Context, ms int) (string, error) {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return "done", nil
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	})
	p := procwiretest.New(t, w)
	defer p.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := p.Call(ctx, "sleep", 5000, nil) // gives up after 20 ms: the abort is sent
	fmt.Println("call:", err)

	o, err := p.Handled(context.Background(), "sleep")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("aborted:", o.Aborted, "cause:", o.Cause)
	fmt.Println("handler returned:", o.Err)
	// Output:
	// call: context deadline exceeded
	// aborted: true cause: procwire: request aborted by the parent
	// handler returned: procwire: request aborted by the parent
}
