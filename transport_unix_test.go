//go:build unix

package procwire

import "testing"

func TestSocketDirFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", dir+"/")
	if got := socketDir(); got != dir {
		t.Errorf("socketDir() = %q, want %q (trailing slash trimmed)", got, dir)
	}
	t.Setenv("XDG_RUNTIME_DIR", "/run/x")
	if got := socketDir(); got != "/run/x" {
		t.Errorf("socketDir() = %q, want XDG_RUNTIME_DIR", got)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", "")
	if got := socketDir(); got != "/tmp" {
		t.Errorf("socketDir() = %q, want /tmp", got)
	}
}
