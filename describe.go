package procwire

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/procwire/procwire-go/contract"
	"github.com/procwire/procwire-go/protocol"
)

// Contract returns the machine-readable description of the worker's
// contract: every registered method and event with its codecs, timeout and
// cancellability, and the Go types of the typed API as type trees (see
// package contract). Methods registered with HandleFunc have no types.
//
// A worker run with the environment variable PROCWIRE_DESCRIBE=1
// (contract.DescribeEnv) prints it as JSON on stdout from Run, which then
// returns nil without listening: `procwire schema` and `procwire gen ts`
// use this to read the contract of a compiled worker.
func (w *Worker) Contract() *contract.Contract {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := contract.NewBuilder()
	// typeFor describes t when the direction's codec is MessagePack, the
	// only codec whose payloads have a Go type tree.
	typeFor := func(codecName string, typed bool, t func() *contract.Type) *contract.Type {
		if !typed || codecName != "msgpack" {
			return nil
		}
		return t()
	}
	c := &contract.Contract{
		Format:   contract.FormatVersion,
		Protocol: protocol.Version,
		Library:  Version,
		Module:   os.Getenv("PROCWIRE_MODULE_NAME"),
		Methods:  make([]contract.Method, 0, len(w.methods)),
		Events:   make([]contract.Event, 0, len(w.events)),
	}
	for _, m := range w.methods {
		cm := contract.Method{
			Name:          m.Name,
			MethodSchema:  m.Schema(),
			RequestCodec:  m.RequestCodec.Name(),
			ResponseCodec: m.ResponseCodec.Name(),
			Cancellable:   m.Cancellable,
		}
		typed := m.sig != nil
		cm.Request = typeFor(cm.RequestCodec, typed, func() *contract.Type { return b.TypeOf(m.sig.req) })
		cm.Result = typeFor(cm.ResponseCodec, typed && m.sig.resp != nil, func() *contract.Type { return b.TypeOf(m.sig.resp) })
		c.Methods = append(c.Methods, cm)
	}
	for i, e := range w.events {
		t := w.evTypes[i]
		c.Events = append(c.Events, contract.Event{
			Name:        e.Name,
			EventSchema: e.Schema(),
			Codec:       e.Codec.Name(),
			Data:        typeFor(e.Codec.Name(), t != nil, func() *contract.Type { return b.TypeOf(t) }),
		})
	}
	c.Types = b.Types()
	return c
}

// describeRequested reports whether the worker was started to print its
// contract (PROCWIRE_DESCRIBE=1).
func describeRequested() bool { return os.Getenv(contract.DescribeEnv) == "1" }

// describe writes the contract as indented JSON to out (os.Stdout if nil).
func (w *Worker) describe(out io.Writer) error {
	if out == nil {
		out = os.Stdout
	}
	b, err := json.MarshalIndent(w.Contract(), "", "  ")
	if err != nil {
		return fmt.Errorf("procwire: describe: %w", err)
	}
	if _, err := out.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("procwire: describe: %w", err)
	}
	return nil
}
