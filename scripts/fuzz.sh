#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 20s).
# Targets are discovered with `go test -list`; a crasher fails the run and
# is left in the package's testdata/fuzz/ to be committed as a regression.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-20s}"
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($FUZZTIME)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
  done
done
