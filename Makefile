# procwire-go — the two commands of the README, and their parts.
#   make demo   the real Node parent drives a Go worker and prints the results
#   make test   every test: vet (linux, darwin, windows), lint (staticcheck
#               and govulncheck) and go test -race, including the interop
#               suites against the real parent and the fuzz targets' seed
#               corpora, then every benchmark once. In CI (CI=true, as
#               .ci/run sets) also a run of every fuzz target (FUZZTIME
#               each, default 20s) and the Windows tests under Wine. On a
#               contributor's machine those two run only when asked
#               (`make fuzz`, `make test-windows`), the Windows tests also
#               when wine and mingw-w64 are installed; each skip says so in
#               one line. Locally `make test` needs no root and no Debian
#               package: Go (and its module proxy), npm, make and gcc.

NODE := interop/node_modules/node/bin/node
GO   ?= go

# Any CI value but empty, 0 or false means CI (.ci/run sets CI=true).
IN_CI := $(filter-out 0 false,$(CI))

.PHONY: demo test deps vet lint staticcheck govulncheck unit fuzz bench \
	bench-smoke bench-compare bench-compare-smoke bench-record soak test-windows skip-fuzz \
	skip-test-windows

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
	cd bench/compare && $(GO) vet ./... && GOOS=darwin $(GO) vet ./... && \
		GOOS=windows $(GO) vet ./...

# Linters, pinned, installed with `go install` into bin/tools/ (never in
# go.mod). Configuration: staticcheck.conf. staticcheck runs once per build
# that has its own files (unix: linux; windows) and merges the results;
# govulncheck reports the vulnerabilities that our code reaches, for linux
# and windows, from the Go vulnerability database as published in the
# golang.org/x/vulndb module (its data/osv folder), fetched from the module
# proxy: vuln.go.dev itself is not reachable from every machine that runs
# make test. Bump VULNDB_VERSION to see newer reports.
STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.9.0
VULNDB_VERSION      := v0.0.0-20261105234957-e22db6528018
TOOLS       := $(CURDIR)/bin/tools
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)/staticcheck
GOVULNCHECK := $(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION)/govulncheck

lint: staticcheck govulncheck

staticcheck: $(STATICCHECK)
	printf 'linux: GOOS=linux\nwindows: GOOS=windows\n' | $(STATICCHECK) -matrix ./...
	cd bench/compare && printf 'linux: GOOS=linux\nwindows: GOOS=windows\n' | $(STATICCHECK) -matrix ./...

govulncheck: $(GOVULNCHECK)
	$(GO) -C / mod download golang.org/x/vulndb@$(VULNDB_VERSION)
	db="$$($(GO) env GOMODCACHE)/golang.org/x/vulndb@$(VULNDB_VERSION)/data/osv"; \
	for os in linux windows; do \
		echo "govulncheck GOOS=$$os (database: golang.org/x/vulndb@$(VULNDB_VERSION))"; \
		GOOS=$$os $(GOVULNCHECK) -db "file://$$db" ./... || exit; \
	done

$(STATICCHECK):
	GOBIN=$(@D) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(GOVULNCHECK):
	GOBIN=$(@D) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

unit:
	$(GO) test -race -p 1 ./...

fuzz:
	FUZZTIME=$(or $(FUZZTIME),20s) ./scripts/fuzz.sh

# Every testing.B benchmark once, to prove they still run (figures: `make
# bench`), and the codecs' comparison with Node in its quick mode.
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime=1x ./...
	$(GO) run ./bench/codecs -quick -out $$(mktemp -d)/codecs.json >/dev/null

# The run of record (BENCHMARKS.md, issue 13): the Go codecs against Node's,
# the Go parent against go-plugin and net/rpc, and the workers under the
# real parent, one after the other, results in bench/out/record/ (about
# half an hour). BASELINE=PATH adds a conformance worker built from an
# earlier commit to the last (see BENCHMARKS.md).
bench-record: deps
	$(GO) run ./bench/codecs -out bench/out/record/codecs.json
	cd bench/compare && $(GO) run . -runs 3 -out ../out/record/compare-results.json
	$(GO) run ./bench -reps 3 -out bench/out/record $(if $(BASELINE),-baseline $(BASELINE))

# The end-to-end comparison: Go vs the official Node worker vs the null
# worker under the real parent, plus the raw socket; see BENCHMARKS.md.
bench: deps
	$(GO) run ./bench $(BENCHFLAGS)

# The Go parent against hashicorp/go-plugin (gRPC) and net/rpc (gob), in a
# nested module (bench/compare) that keeps their dependencies out of
# go.mod; see BENCHMARKS.md. COMPAREFLAGS, e.g. -runs 3 (default 5).
bench-compare:
	cd bench/compare && $(GO) run . $(COMPAREFLAGS)

# Its smoke test: the nested module's tests (they build the four programs
# and run one tiny iteration of every scenario of each), then the command
# once in -quick mode.
bench-compare-smoke:
	cd bench/compare && $(GO) test -race ./... && \
		$(GO) run . -quick -runs 1 -out ../out/compare-smoke.json

# A million mixed requests under the real parent with a 20 ms heartbeat;
# not part of `make test` (SOAK_TOTAL to change the count).
soak: deps
	$(GO) build -o bin/soak ./soak
	cd interop && PROCWIRE_WORKER=$(CURDIR)/bin/soak node_modules/node/bin/node soak.mjs $(SOAK_TOTAL)

# The Windows build of the worker, wire and codec tests, run under Wine
# with the real named-pipe transport (installs wine64 and mingw-w64 with
# apt-get when they are missing, which needs root).
test-windows:
	./scripts/wine-test.sh

# What `make test` runs beyond vet, lint, unit and bench-smoke: in CI
# everything; elsewhere the Windows tests only when their tools are there
# (as wine-test.sh finds them), and no fuzzing beyond the seed corpora that
# `go test` runs. Each skip prints one line, at the end of the run.
WINE  := $(shell PATH='$(PATH):/usr/lib/wine'; command -v wine64 || command -v wine)
MINGW := $(shell command -v x86_64-w64-mingw32-gcc)
WINE_MISSING := $(strip $(if $(WINE),,wine64 (or wine)) \
	$(if $(or $(WINE),$(MINGW)),,and) $(if $(MINGW),,x86_64-w64-mingw32-gcc))
ifneq ($(IN_CI),)
TEST_MORE := fuzz bench-smoke bench-compare-smoke test-windows
else
TEST_MORE := bench-smoke bench-compare-smoke $(if $(and $(WINE),$(MINGW)),test-windows) skip-fuzz \
	$(if $(and $(WINE),$(MINGW)),,skip-test-windows)
endif

test: deps vet lint unit $(TEST_MORE)

skip-fuzz:
	@echo "make test: skipped fuzzing beyond the seed corpora (go test ran them; run 'make fuzz', or CI=true)"

skip-test-windows:
	@echo "make test: skipped Windows tests under Wine: $(WINE_MISSING) not found (run 'make test-windows', or CI=true)"
