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
// sha256BlocksNI and the pair path through sha256Block2NI (where the CPU
// has the SHA extensions) and through
// crypto/sha256's marshalled states (and the crypto/hmac path past them)
// against crypto/hmac for keys shorter than, as long as and longer than
// a SHA-256 block, empty, and random messages of every length from 0 to
// 64 bytes (in pairs: every length beside every other), one pseudonymizer
// reused per key.
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
				if p.pair != haveSHANI {
					t.Fatalf("the pair path is %v on a CPU where haveSHANI is %v: its probe failed", p.pair, haveSHANI)
				}
				want := func(msg string) string {
					m := hmac.New(sha256.New, key)
					m.Write([]byte(msg))
					return hex.EncodeToString(m.Sum(nil)[:pseudoBytes])
				}
				for _, ni := range []bool{haveSHANI, false} {
					p.ni, p.pair = ni, ni
					for n := 0; n <= 64; n++ {
						for range 20 {
							msg := string(bytesOf(n))
							if got := string(p.hashBytes(msg)); got != want(msg) {
								t.Fatalf("SHA-NI %v: hashBytes(%q) = %s, want %s", ni, msg, got, want(msg))
							}
						}
						// hash2 of this length beside every other length.
						for m := 0; m <= 64; m++ {
							a, b := string(bytesOf(n)), string(bytesOf(m))
							var da, db [2 * pseudoBytes]byte
							p.hash2(da[:], db[:], a, b)
							if string(da[:]) != want(a) || string(db[:]) != want(b) {
								t.Fatalf("SHA-NI %v: hash2(%q, %q) = %s, %s, want %s, %s", ni, a, b, da, db, want(a), want(b))
							}
						}
					}
				}
			})
		}
	}
}
