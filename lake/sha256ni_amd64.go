//go:build !purego

package lake

import "github.com/klauspost/cpuid/v2"

// sha256BlocksNI runs the SHA-256 compression function over the whole
// 64-byte blocks of p from state h (the hash's eight words), with the x86
// SHA extensions: the pseudonym HMAC's two blocks a number without
// crypto/sha256's state marshalling around each (see pseudonymizer).
//
//go:noescape
func sha256BlocksNI(h *[8]uint32, p []byte)

// sha256Block2NI compresses one 64-byte block in each of two streams,
// pa from state ha and pb from hb, their rounds interleaved: the
// pseudonym HMAC of two numbers at once (see pseudonymizer.hash2).
//
//go:noescape
func sha256Block2NI(ha, hb *[8]uint32, pa, pb *[64]byte)

// haveSHANI tells that this CPU runs sha256BlocksNI (the features
// crypto/sha256 asks of it for the same code).
var haveSHANI = cpuid.CPU.Supports(cpuid.SHA, cpuid.AVX, cpuid.SSE2, cpuid.SSE4, cpuid.SSSE3)
