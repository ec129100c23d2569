package interop

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/procwire/procwire-go/contract"
	"github.com/procwire/procwire-go/internal/testenv"
)

// TestGenTS proves the TypeScript that `procwire gen ts` writes
// (contract.TypeScript) for the conformance worker, with the pinned
// TypeScript (package-lock.json) and the real @procwire/core 1.5.0 parent:
//
//   - ts/usage.ts, the README's Node example, compiles with tsc --strict;
//   - ts/expect-errors.ts compiles too, so each of its @ts-expect-error
//     lines (a misspelled method, event or field, a wrong field type, a
//     missing field, send on a stream, a stream used as a promise) is a
//     compile error exactly there: tsc reports an unused one (TS2578);
//   - the README's Node example (the ts block of its section on gen ts)
//     and contract/testdata/image-worker.ts, the printer's golden file,
//     compile;
//   - ts/typed.test.ts, compiled the same way, drives the worker through
//     the generated definitions and checks every value received against
//     the contract's type at run time (ts/check.ts).
func TestGenTS(t *testing.T) {
	node := testenv.Node(t)
	tscPath := filepath.Join(testenv.InteropDir(), "node_modules", "typescript", "bin", "tsc")
	if _, err := os.Stat(tscPath); err != nil {
		// As testenv.Node: a machine without `npm ci` skips, CI fails.
		err = fmt.Errorf("the pinned TypeScript is not installed (run `npm ci` in %s): %w", testenv.InteropDir(), err)
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	worker := testenv.Worker(t, conformance)

	// The worker describes itself without listening.
	c, raw := testenv.Describe(t, worker)

	// The files go into a directory inside interop/, so that tsc and Node
	// find node_modules.
	dir, err := os.MkdirTemp(testenv.InteropDir(), ".gen-ts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var ts bytes.Buffer
	if err := contract.TypeScript(&ts, c, contract.TypeScriptOptions{Name: "conformance", Source: "examples/conformance"}); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("conformance.ts", ts.Bytes())
	write("contract.json", raw)
	files := []string{"usage.ts", "expect-errors.ts", "check.ts", "typed.test.ts"}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(testenv.InteropDir(), "ts", f))
		if err != nil {
			t.Fatal(err)
		}
		write(f, b)
	}
	golden, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "contract", "testdata", "image-worker.ts"))
	if err != nil {
		t.Fatal(err)
	}
	write("image-worker.ts", golden)
	write("readme.ts", readmeExample(t))
	files = append(files, "image-worker.ts", "readme.ts")

	// One tsc run for all: it fails on any error in any file, and writes
	// the JavaScript of the suite only if there is none.
	out := filepath.Join(dir, "out")
	args := []string{
		tscPath,
		"--strict", "--noEmitOnError", "--pretty", "false",
		"--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022",
		"--types", "node", "--outDir", out,
	}
	for _, f := range files {
		args = append(args, filepath.Join(dir, f))
	}
	tsc := exec.Command(node, args...)
	tsc.Dir = dir
	if b, err := tsc.CombinedOutput(); err != nil {
		t.Fatalf("tsc --strict: %v\n%s", err, strings.ReplaceAll(string(b), dir+string(filepath.Separator), ""))
	}

	runSuite(t, filepath.Join(out, "typed.test.js"),
		"PROCWIRE_WORKER="+worker,
		"PROCWIRE_CONTRACT="+filepath.Join(dir, "contract.json"))
}

// readmeExample returns the TypeScript example of the README's section on
// procwire gen ts.
func readmeExample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	_, s, ok := strings.Cut(s, "## Calling a Go worker from Node, typed")
	if ok {
		_, s, ok = strings.Cut(s, "```ts\n")
	}
	if ok {
		s, _, ok = strings.Cut(s, "```")
	}
	if !ok {
		t.Fatal("README.md has no ts example in its section on gen ts")
	}
	return []byte(s)
}
