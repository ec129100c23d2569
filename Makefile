# procwire-go — the two commands of the README, and their parts.
#   make demo   the real Node parent drives a Go worker and prints the results
#   make test   every test: vet (linux, darwin, windows) and go test -race,
#               including the interop suites against the real parent, and a
#               short run of every fuzz target (FUZZTIME each, default 20s),
#               and the Windows tests under Wine

NODE := interop/node_modules/node/bin/node
GO   ?= go

.PHONY: demo test deps vet unit fuzz bench bench-smoke soak test-windows

# Install the pinned Node 22 and @procwire packages (package-lock.json).
deps: interop/node_modules/.package-lock.json
interop/node_modules/.package-lock.json: interop/package.json interop/package-lock.json
	cd interop && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: deps
	$(GO) build -o bin/conformance ./examples/conformance
	cd interop && PROCWIRE_WORKER=$(CURDIR)/bin/conformance node_modules/node/bin/node demo.mjs

vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...

unit:
	$(GO) test -race -p 1 ./...

fuzz:
	FUZZTIME=$(or $(FUZZTIME),20s) ./scripts/fuzz.sh

# Every testing.B benchmark once, to prove they still run (figures: `make bench`).
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime=1x ./...

# The end-to-end comparison: Go vs the official Node worker vs the null
# worker under the real parent, plus the raw socket; see BENCHMARKS.md.
bench: deps
	$(GO) run ./bench $(BENCHFLAGS)

# A million mixed requests under the real parent with a 20 ms heartbeat;
# not part of `make test` (SOAK_TOTAL to change the count).
soak: deps
	$(GO) build -o bin/soak ./soak
	cd interop && PROCWIRE_WORKER=$(CURDIR)/bin/soak node_modules/node/bin/node soak.mjs $(SOAK_TOTAL)

# The Windows build of the worker, wire and codec tests, run under Wine
# with the real named-pipe transport (installs wine64 and mingw-w64).
test-windows:
	./scripts/wine-test.sh

test: deps vet unit fuzz bench-smoke test-windows
