//go:build windows

package procwire

import (
	"fmt"
	"net"
	"os"

	"github.com/Microsoft/go-winio"
)

// listen creates the worker's named pipe \\.\pipe\procwire-<pid>-<random>.
// dir is ignored. The pipe's default security descriptor grants access to
// the creating user, SYSTEM and administrators only.
func listen(dir string) (net.Listener, string, error) {
	path := fmt.Sprintf(`\\.\pipe\procwire-%d-%s`, os.Getpid(), randomHex(16))
	ln, err := winio.ListenPipe(path, &winio.PipeConfig{
		InputBufferSize:  64 << 10,
		OutputBufferSize: 64 << 10,
	})
	if err != nil {
		return nil, "", fmt.Errorf("procwire: listen on %s: %w", path, err)
	}
	return ln, path, nil
}

func controlInput() (r interface{ Read([]byte) (int, error) }, closeFn func()) {
	return os.Stdin, func() {}
}

func ignoreSIGPIPE() {}
