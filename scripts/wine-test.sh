#!/usr/bin/env bash
# Runs the Windows build of the worker, wire and codec tests under Wine
# (Debian's wine64 8.0). Windows binaries of Go ≥ 1.22 need ProcessPrng
# from bcryptprimitives.dll, which Wine 8 lacks: a small shim DLL built
# with mingw-w64 provides it on top of RtlGenRandom. The named-pipe
# transport is the real one (transport_windows.go).
set -euo pipefail
cd "$(dirname "$0")/.."
# Wine's 64-bit loader is wine64 (Debian 12) or plain wine (newer Wine);
# without it or mingw-w64, root installs Debian's packages, as CI does.
export PATH="$PATH:/usr/lib/wine"
find_wine() { command -v wine64 || command -v wine; }
if ! find_wine >/dev/null || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "wine-test.sh: needs wine64 (or wine) and x86_64-w64-mingw32-gcc; as root it installs them (Debian: apt-get install wine64 gcc-mingw-w64-x86-64)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wine64 gcc-mingw-w64-x86-64 >/dev/null
fi
wine="$(find_wine)"
work="$(mktemp -d)"
export WINEPREFIX="$work/prefix" WINEDEBUG=-all
trap 'wineserver -k >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$wine" wineboot -i >/dev/null 2>&1
cat >"$work/shim.c" <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
C
x86_64-w64-mingw32-gcc -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" "$work/shim.c" -ladvapi32
status=0
# WINE_TEST_PKGS and WINE_TEST_ARGS narrow a run (e.g. "." and
# "-test.run TestStats -test.count 5").
for pkg in ${WINE_TEST_PKGS:-. ./wire ./codec}; do
  exe="$work/$(basename "$(go list "$pkg")").test.exe"
  GOOS=windows GOARCH=amd64 go test -c -o "$exe" "$pkg"
  echo "wine: $pkg"
  # In the package's directory, as go test runs it (testdata/ is relative).
  if ! (cd "$pkg" && timeout 600 "$wine" "$exe" -test.timeout 300s ${WINE_TEST_ARGS:-}); then
    status=1
  fi
done
exit $status
