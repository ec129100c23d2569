package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// ModuleRoot returns the absolute path of the module's root directory.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// WorkerEnv returns the environment for a worker process: this process's
// environment, GORACE settings, then extra. Race-enabled workers otherwise
// sleep 1 s at exit (atexit_sleep_ms), which would hide how fast they shut
// down; halt_on_error makes a race in a worker end it at once.
func WorkerEnv(extra ...string) []string {
	env := append(os.Environ(), "GORACE=atexit_sleep_ms=0 halt_on_error=1")
	return append(env, extra...)
}

// BuildWorker builds the main package at pkg (an import path, or a ./ path
// relative to the module root) into dir and returns the executable's path.
// It builds with -race when this binary has the race detector.
func BuildWorker(pkg, dir string) (string, error) {
	out := filepath.Join(dir, filepath.Base(pkg))
	if runtime.GOOS == "windows" {
		out += ".exe"
	}
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = ModuleRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}

// The builds of Worker: one directory for the test binary (made by the
// first build, removed by Main), one build per package path.
var (
	inMain   atomic.Bool
	buildMu  sync.Mutex
	buildDir string
	builds   = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Main runs the tests of m, removes the executables Worker built and exits
// with the tests' status. A package whose tests call Worker must have
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// or call Main at the end of its own TestMain, in place of m.Run.
func Main(m *testing.M) {
	inMain.Store(true)
	code := m.Run()
	buildMu.Lock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	buildMu.Unlock()
	os.Exit(code)
}

// Worker returns the executable of the main package pkg (as BuildWorker
// takes it), built on first use and shared by every test of this binary:
// the build outlives the test that asked first, and Main removes it when
// all tests are done. Worker fails the test if the build fails, or if
// the package's TestMain does not run its tests through Main (the builds
// would be left behind).
func Worker(t testing.TB, pkg string) string {
	t.Helper()
	if !inMain.Load() {
		t.Fatal("testenv.Worker: TestMain must run the tests through testenv.Main, which removes the builds")
	}
	buildMu.Lock()
	b := builds[pkg]
	if b == nil {
		b = &build{}
		builds[pkg] = b
	}
	buildMu.Unlock()
	b.once.Do(func() {
		var dir string
		if dir, b.err = packageDir(); b.err == nil {
			b.path, b.err = BuildWorker(pkg, dir)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// packageDir returns a new directory for one package's build, inside the
// test binary's build directory.
func packageDir() (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "procwire-testenv-")
		if err != nil {
			return "", err
		}
		buildDir = dir
	}
	return os.MkdirTemp(buildDir, "")
}
