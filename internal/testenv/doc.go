// Package testenv is the test support shared by the tests of this module,
// in the spirit of the Go repository's own internal/testenv: one copy of
// what several packages' tests need, importable only from inside the
// module.
//
//   - Worker builds a main package of the module once per test binary and
//     returns the executable (BuildWorker builds one on demand). Packages
//     that call Worker run their tests through Main, which removes the
//     builds when the tests are done.
//   - Spawn starts a worker process with pipes and reads its $init line;
//     ReadInit reads $init from any stdout (an in-process worker's too).
//   - NodePath and Node find the pinned Node installed in the interop
//     directory (InteropDir); RunSuite runs one of its node:test suites.
//   - SocketPair returns a connected stream-socket pair; Dial connects to
//     a worker's socket or named pipe as a parent does.
//   - VerifyNoLeaks and CheckLeaks are the goroutine-leak check.
//   - Buffer is a goroutine-safe buffer for logs and stderr.
//   - Describe runs a worker with PROCWIRE_DESCRIBE=1 and parses the
//     contract it prints.
//   - Memory and Machine measure a process and the machine from /proc for
//     the benchmarks (the parent's pool benchmarks, bench and
//     bench/compare; their CPU time: internal/cputime); RawPeer is the far
//     end of their raw-socket floors.
//
// Worker and BuildWorker build with -race when the test binary has the
// race detector, so that a race in a worker fails the test that ran it.
// The bench commands use NodePath, InteropDir, BuildWorker and the
// measurements as well.
package testenv
