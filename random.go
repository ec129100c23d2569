package procwire

import (
	"crypto/rand"
	"encoding/hex"
)

// randomHex returns n crypto-random bytes as 2n lowercase hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b)
}
