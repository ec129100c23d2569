package contract_test

import (
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/procwire/procwire-go/contract"
	"github.com/procwire/procwire-go/protocol"
)

// A Builder describes Go types as they travel in MessagePack; TypeScript
// turns a contract into a module for @procwire/core.
func ExampleTypeScript() {
	type Point struct {
		X     float64 `msgpack:"x"`
		Y     float64 `msgpack:"y"`
		Label *string `msgpack:"label,omitempty"`
	}
	b := contract.NewBuilder()
	c := &contract.Contract{
		Format:   contract.FormatVersion,
		Protocol: "1.0.0",
		Methods: []contract.Method{{
			Name: "nearest", MethodSchema: protocol.MethodSchema{ID: 1, Response: "result"}, RequestCodec: "msgpack", ResponseCodec: "msgpack",
			Request: b.TypeOf(reflect.TypeFor[[]Point]()), Result: b.TypeOf(reflect.TypeFor[Point]()),
		}},
		Types: b.Types(),
	}
	var out strings.Builder
	if err := contract.TypeScript(&out, c, contract.TypeScriptOptions{Name: "geo"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	ts := out.String()
	point := ts[strings.Index(ts, "export interface Point"):]
	fmt.Println(point[:strings.Index(point, "}")+1])
	for _, l := range strings.Split(ts, "\n") {
		if strings.Contains(l, ".method(") {
			fmt.Println(strings.TrimSpace(l))
		}
	}
	// Output:
	// export interface Point {
	// 	x: number;
	// 	y: number;
	// 	label?: string | null;
	// }
	// .method("nearest", { codec: msgpack<Point[] | null, Point>(), response: "result" });
}
