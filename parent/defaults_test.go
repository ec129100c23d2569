package parent

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/procwire/procwire-go/protocol"
)

// TestDefaults checks the zero Options against @procwire/core 1.5.0's
// defaults (manager-core.js DEFAULT_SPAWN_POLICY, RESTART_WAIT_DELAY_MS,
// FORCE_KILL_TIMEOUT_MS; module-core.js DEFAULT_REQUEST_TIMEOUT_MS), and
// the negative values that mean none.
func TestDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"InitTimeout", o.InitTimeout, 30 * time.Second},
		{"RequestTimeout", o.RequestTimeout, 30 * time.Second},
		{"RetryDelay", o.RetryDelay, time.Second},
		{"MaxRetryDelay", o.MaxRetryDelay, 30 * time.Second},
		{"RestartDelay", o.restartDelay(), time.Second},
		{"RestartWindow", o.RestartWindow, time.Minute},
		{"ShutdownTimeout", o.ShutdownTimeout, 5 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if o.retries() != 3 || o.MaxRestarts != 5 || o.Restart || o.Heartbeat != nil || o.Auth {
		t.Errorf("retries %d, MaxRestarts %d, Restart %v, Heartbeat %v, Auth %v; want 3, 5, off, off, off", o.retries(), o.MaxRestarts, o.Restart, o.Heartbeat, o.Auth)
	}
	// Exponential from 1 s, capped at 30 s: core's calculateRetryDelay.
	var delays []time.Duration
	for n := 1; n <= 7; n++ {
		delays = append(delays, o.retryDelay(n)/time.Second)
	}
	if want := []time.Duration{1, 2, 4, 8, 16, 30, 30}; !slices.Equal(delays, want) {
		t.Errorf("retry delays = %v s, want %v s", delays, want)
	}
	// Applying the defaults twice changes nothing.
	if o2, _ := o.withDefaults(); o2.RetryDelay != o.RetryDelay || o2.Retries != o.Retries {
		t.Error("withDefaults is not idempotent")
	}

	// Negative: none.
	n, _ := Options{Retries: -1, RetryDelay: -1, RestartDelay: -1, RequestTimeout: -1}.withDefaults()
	if n.retries() != 0 || n.retryDelay(1) != 0 || n.restartDelay() != 0 || n.RequestTimeout > 0 {
		t.Errorf("negative: retries %d, delay %v, restart delay %v, request timeout %v; want none", n.retries(), n.retryDelay(1), n.restartDelay(), n.RequestTimeout)
	}
	if n2, _ := n.withDefaults(); n2.retries() != 0 || n2.retryDelay(1) != 0 {
		t.Error("withDefaults turned a none into the default")
	}
	// A fixed delay; a RetryDelay beyond the default cap.
	f, _ := Options{RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond}.withDefaults()
	if f.retryDelay(1) != 50*time.Millisecond || f.retryDelay(4) != 50*time.Millisecond {
		t.Errorf("fixed delay: %v, %v", f.retryDelay(1), f.retryDelay(4))
	}
	l, _ := Options{RetryDelay: time.Minute}.withDefaults()
	if l.retryDelay(1) != time.Minute || l.retryDelay(3) != time.Minute {
		t.Errorf("a 1 min RetryDelay: %v, %v", l.retryDelay(1), l.retryDelay(3))
	}
	if _, err := (Options{Heartbeat: &Heartbeat{Interval: time.Second}}).withDefaults(); err == nil {
		t.Error("a heartbeat without timeout is accepted")
	}
}

// TestTimeoutPrecedence: the method's declared timeout, else the schema's,
// else the default, as core's methodConfig.timeout ?? schema ?? default;
// a negative declared one is none (core's timeout 0).
func TestTimeoutPrecedence(t *testing.T) {
	opts, _ := Options{RequestTimeout: 7 * time.Second, Methods: map[string]MethodSpec{
		"declared": {Timeout: time.Second}, "disabled": {Timeout: -1}, "undeclared": {},
	}}.withDefaults()
	m := &Module{opts: opts}
	in := &instance{schema: protocol.Schema{Methods: map[string]protocol.MethodSchema{
		"declared": {Timeout: 3000}, "disabled": {Timeout: 3000}, "undeclared": {Timeout: 3000}, "plain": {},
	}}}
	for method, want := range map[string]time.Duration{"declared": time.Second, "undeclared": 3 * time.Second, "plain": 7 * time.Second} {
		if got := m.timeout(in, method); got != want {
			t.Errorf("%s: timeout %v, want %v", method, got, want)
		}
	}
	if got := m.timeout(in, "disabled"); got > 0 {
		t.Errorf("disabled: timeout %v, want none", got)
	}
}

// TestWorkerEnv: the command's entries are merged into the parent's
// environment and win; PROCWIRE_MODULE_NAME and PROCWIRE_TOKEN are the
// parent's to set.
func TestWorkerEnv(t *testing.T) {
	t.Setenv("PW_ENV_A", "parent")
	t.Setenv("PW_ENV_B", "parent")
	t.Setenv("PROCWIRE_TOKEN", "stale")
	env := workerEnv([]string{"PW_ENV_B=worker", "PW_ENV_C=worker", "PW_ENV_C=last", "PROCWIRE_MODULE_NAME=x"}, false, "mod", "")
	get := func(key string) []string {
		var vs []string
		for _, kv := range env {
			if k, v, _ := strings.Cut(kv, "="); k == key {
				vs = append(vs, v)
			}
		}
		return vs
	}
	for key, want := range map[string][]string{
		"PW_ENV_A": {"parent"}, "PW_ENV_B": {"worker"}, "PW_ENV_C": {"last"},
		"PROCWIRE_MODULE_NAME": {"mod"}, "PROCWIRE_TOKEN": nil,
	} {
		if got := get(key); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if got := workerEnv(nil, false, "mod", "tok"); !slices.Contains(got, "PROCWIRE_TOKEN=tok") || !slices.Contains(got, "PW_ENV_A=parent") {
		t.Errorf("nil Env: %q", got)
	}
	// ReplaceEnv: Env is the whole environment.
	if got := workerEnv([]string{"ONLY=1"}, true, "mod", ""); !slices.Equal(got, []string{"ONLY=1", "PROCWIRE_MODULE_NAME=mod"}) {
		t.Errorf("ReplaceEnv: %q", got)
	}
	if envKey("=C:=C:\\dir") != "=C:" || envKey("A=b=c") != "A" || envKey("novalue") != "novalue" {
		t.Errorf("envKey: %q %q %q", envKey("=C:=C:\\dir"), envKey("A=b=c"), envKey("novalue"))
	}
}
