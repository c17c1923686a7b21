//go:build !amd64 || purego

package lake

// haveSHANI is false off amd64: the pseudonym HMAC goes through
// crypto/sha256 (see pseudonymizer).
const haveSHANI = false

func sha256BlocksNI(h *[8]uint32, p []byte) { panic("lake: sha256BlocksNI without the SHA extensions") }

func sha256Block2NI(ha, hb *[8]uint32, pa, pb *[64]byte) {
	panic("lake: sha256Block2NI without the SHA extensions")
}
