#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 20s).
# Targets are discovered with `go test -list`; a crasher fails the run and
# is left in the package's testdata/fuzz/ to be committed as a regression.
#
# Go's fuzz coordinator (go1.26 and older, golang/go#75804) can report a
# bare "context deadline exceeded" when -fuzztime expires while a worker is
# mid-input on a busy machine, without any failing input. Such a run is
# retried, twice at most (on a loaded machine it has struck twice in a
# row); a failing input, a panic or any other failure fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-20s}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

fuzz() { # pkg target
  go test -run '^$' -fuzz "^${2}\$" -fuzztime "$FUZZTIME" "$1" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}

deadline_flake() {
  grep -q 'context deadline exceeded' "$log" &&
    ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}

for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($FUZZTIME)"
    tries=1
    until fuzz "$pkg" "$target"; do
      if ! deadline_flake || ((tries == 3)); then
        exit 1
      fi
      echo "fuzz: $target: the fuzz coordinator's deadline race (golang/go#75804), no failing input; running it again" >&2
      tries=$((tries + 1))
    done
  done
done
