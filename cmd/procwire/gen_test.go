package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/procwire/procwire-go/contract"
	"github.com/procwire/procwire-go/internal/testenv"
)

// TestGenTSWritesTheContractsModule checks that gen ts writes what
// contract.TypeScript makes of the worker's contract (interop's TestGenTS
// compiles and runs it).
func TestGenTSWritesTheContractsModule(t *testing.T) {
	worker := conformanceWorker(t)
	c, _ := testenv.Describe(t, worker)
	var want bytes.Buffer
	if err := contract.TypeScript(&want, c, contract.TypeScriptOptions{Name: "conformance", Source: "conformance"}); err != nil {
		t.Fatal(err)
	}

	t.Run("to stdout, named after the worker's file", func(t *testing.T) {
		r := procwire(t, context.Background(), "", "gen", "ts", "--", worker)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if r.stdout != want.String() {
			t.Errorf("output differs from contract.TypeScript:\n%s", r.stdout)
		}
	})
	t.Run("to a file with -o, named with -name", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "w.ts")
		r := procwire(t, context.Background(), "", "gen", "-name", "image-worker", "ts", "-o", out, "--", worker)
		if r.code != 0 || r.stdout != "" {
			t.Fatalf("exit %d, stdout %q: %s", r.code, r.stdout, r.stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{`export function defineImageWorker(name: string = "image-worker")`, "export interface ImageWorkerApi", `.method("sleep", { codec: msgpack<number, Record<string, number> | null>(), response: "result", cancellable: true })`} {
			if !strings.Contains(string(b), s) {
				t.Errorf("the module lacks %q", s)
			}
		}
	})
}

func TestGenUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"gen", "--", "w"}, "say which language"},
		{[]string{"gen", "py", "ts", "--", "w"}, "unexpected arguments"},
		{[]string{"gen", "-o", "ts", "--", "w"}, "say which language"},
		{[]string{"gen", "ts"}, `missing "--"`},
		{[]string{"gen", "ts", "--init-timeout", "0s", "--", "w"}, "--init-timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := procwire(t, context.Background(), "", tt.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %s; want exit %d and %q", r.code, r.stderr, exitUsage, tt.want)
			}
		})
	}
}

// TestSchemaShowsTheContract checks that schema prints the contract, types
// included, for a worker that describes itself.
func TestSchemaShowsTheContract(t *testing.T) {
	r := procwire(t, context.Background(), "", "schema", "--", conformanceWorker(t))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	c, err := contract.Parse([]byte(r.stdout))
	if err != nil {
		t.Fatalf("%v in %s", err, r.stdout)
	}
	if m := c.Method("shape"); m == nil || m.Request == nil || m.Request.Ref != "main.Shape" || m.Result.Ref != "main.Shape" {
		t.Errorf("method shape = %+v, want main.Shape both ways", m)
	}
	if m := c.Method("sleep"); m == nil || !m.Cancellable {
		t.Errorf("method sleep = %+v, want cancellable", m)
	}
	if m := c.Method("echoRaw"); m == nil || m.RequestCodec != "raw" || m.Request != nil {
		t.Errorf("method echoRaw = %+v, want codec raw and no type", m)
	}
	if _, ok := c.Types["main.Shape"]; !ok {
		t.Errorf("types lack main.Shape: %v", c.Types)
	}
}

// TestSchemaOfAWorkerThatDoesNotDescribe checks the fallback: the official
// Node worker does not know PROCWIRE_DESCRIBE, so schema spawns it and
// prints its $init schema, and gen says it cannot.
func TestSchemaOfAWorkerThatDoesNotDescribe(t *testing.T) {
	node := testenv.Node(t)
	ref := filepath.Join(testenv.InteropDir(), "reference-worker.mjs")
	r := procwire(t, context.Background(), "", "schema", "--", node, ref)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var s struct {
		Format  *int `json:"format"`
		Methods map[string]struct {
			ID       int    `json:"id"`
			Response string `json:"response"`
		} `json:"methods"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("%v in %s", err, r.stdout)
	}
	if s.Format != nil || s.Methods["count"].Response != "stream" {
		t.Errorf("want the $init schema, got %s", r.stdout)
	}
	r = procwire(t, context.Background(), "", "gen", "ts", "--", node, ref)
	if r.code != exitFailure || !strings.Contains(r.stderr, "does not describe itself") {
		t.Errorf("gen: exit %d, stderr %s", r.code, r.stderr)
	}
}
