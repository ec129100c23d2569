package parent

import (
	"runtime"
	"strings"
)

// envKey returns the key of a KEY=value environment entry (workerEnv),
// upper-cased on Windows, whose keys ignore case. A leading '=' belongs to
// the key (Windows' per-drive "=C:=C:\dir" entries).
func envKey(kv string) string {
	skip := min(1, len(kv))
	k := kv
	if i := strings.IndexByte(kv[skip:], '='); i >= 0 {
		k = kv[:skip+i]
	}
	if runtime.GOOS == "windows" {
		k = strings.ToUpper(k)
	}
	return k
}
