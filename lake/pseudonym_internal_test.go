package lake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPseudonymizerMatchesHMAC checks the one-block paths, through
// sha256BlocksNI (where the CPU has the SHA extensions) and through
// crypto/sha256's marshalled states (and the crypto/hmac path past them)
// against crypto/hmac for keys shorter than, as long as and longer than
// a SHA-256 block, empty, and random messages of every length from 0 to
// 64 bytes, one pseudonymizer reused per key.
func TestPseudonymizerMatchesHMAC(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	bytesOf := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for _, keyLen := range []int{0, 1, 20, 55, 63, 64, 65, 100, 200} {
		for k := range 3 {
			key := bytesOf(keyLen)
			t.Run(fmt.Sprintf("key %d bytes/%d", keyLen, k), func(t *testing.T) {
				p := newPseudonymizer(key)
				if p.sha == nil {
					t.Fatal("the one-block path is off: sha256's digest does not marshal")
				}
				if p.ni != haveSHANI {
					t.Fatalf("the SHA-NI path is %v on a CPU where haveSHANI is %v: its probe failed", p.ni, haveSHANI)
				}
				for _, ni := range []bool{haveSHANI, false} {
					p.ni = ni
					for n := 0; n <= 64; n++ {
						for range 20 {
							msg := string(bytesOf(n))
							m := hmac.New(sha256.New, key)
							m.Write([]byte(msg))
							want := hex.EncodeToString(m.Sum(nil)[:pseudoBytes])
							if got := string(p.hashBytes(msg)); got != want {
								t.Fatalf("SHA-NI %v: hashBytes(%q) = %s, want %s", ni, msg, got, want)
							}
						}
					}
				}
			})
		}
	}
}
