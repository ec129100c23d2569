package protocol_test

import (
	"fmt"
	"time"

	"github.com/procwire/procwire-go/protocol"
)

// A method's entry in the $init schema has its timeout in milliseconds.
func ExampleMethodDesc_Schema() {
	m := protocol.MethodDesc{Name: "resize", ID: 1, Response: protocol.ResponseResult, Timeout: 2500 * time.Millisecond}
	fmt.Printf("%+v\n", m.Schema())
	// Output: {ID:1 Response:result Timeout:2500}
}
