// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/enclavekit/enclavekit/enclave"
)

// scriptedNSM answers GetRandom with its answers in turn (a broken or
// hostile entropy source).
type scriptedNSM struct {
	enclave.NSM
	answers [][]byte
}

func (s *scriptedNSM) GetRandom() ([]byte, error) {
	if len(s.answers) == 0 {
		return nil, enclave.ErrInternal
	}
	a := bytes.Clone(s.answers[0])
	s.answers = s.answers[1:]
	return a, nil
}

// healthyAnswers returns n answers of size random bytes (a fixed seed:
// the cases below are exact) with no run of 6 equal bytes and no byte
// value 20 times in one answer.
func healthyAnswers(seed uint64, n, size int) [][]byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed)}))
	var out [][]byte
	for range n {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		out = append(out, b)
	}
	return out
}

// withByteAt returns a copy of b with b[0] repeated k more times, every
// 12 bytes (no run), or, if run, as a run of k+1 starting at byte 100.
func withByteAt(b []byte, k int, run bool) []byte {
	c := bytes.Clone(b)
	for i := 1; i <= k; i++ {
		if run {
			c[100+i] = c[100]
		} else {
			c[12*i] = c[0]
		}
	}
	return c
}

// TestSeedEntropyHealth: SeedEntropy credits the NSM's bytes as full
// entropy, so it first checks each GetRandom answer and fails closed (no
// byte reaches the pool) on one that is no entropy: all zeros (a stuck
// source), the same as an earlier answer (a replayed one), a run of 6
// equal bytes or a byte value 20 times in one answer (NIST SP 800-90B's
// repetition count and adaptive proportion tests at a false-alarm rate of
// 2^-40 a byte), or shorter than 32 bytes. An answer just inside each
// bound is credited.
func TestSeedEntropyHealth(t *testing.T) {
	good := healthyAnswers(1, 3, 256)
	zeros := make([]byte, 256)
	ones := bytes.Repeat([]byte{0xff}, 256)
	for _, tc := range []struct {
		name    string
		answers [][]byte
		n       int
		check   string // "" for none
		answer  int
		count   int
	}{
		{"all zeros", [][]byte{zeros, good[2]}, 0, EntropyCheckZero, 1, 0},
		{"all zeros, second answer", [][]byte{good[0], zeros}, 0, EntropyCheckZero, 2, 0},
		{"all 0xff", [][]byte{ones, good[2]}, 0, EntropyCheckRepetitionCount, 1, 256},
		{"the previous answer again", [][]byte{good[0], good[0]}, 0, EntropyCheckRepeat, 2, 1},
		{"an earlier answer again", [][]byte{good[0], good[1], good[0]}, 768, EntropyCheckRepeat, 3, 1},
		{"a run of 6", [][]byte{withByteAt(good[0], 5, true), good[2]}, 0, EntropyCheckRepetitionCount, 1, 6},
		{"a run of 5", [][]byte{withByteAt(good[0], 4, true), good[1]}, 0, "", 0, 0},
		{"the first byte 20 times", [][]byte{withByteAt(good[0], 19, false), good[2]}, 0, EntropyCheckAdaptiveProportion, 1, 20},
		{"the first byte 19 times", [][]byte{withByteAt(good[0], 18, false), good[1]}, 0, "", 0, 0},
		{"31 bytes", [][]byte{good[0][:31], good[1], good[2]}, 0, EntropyCheckShort, 1, 0},
		{"32 bytes", healthyAnswers(2, 16, 32), 0, "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := &fakePool{}
			n, err := SeedEntropy(&scriptedNSM{answers: tc.answers}, pool, tc.n)
			if tc.check == "" {
				if err != nil || n != DefaultSeedBytes || pool.bits != 8*DefaultSeedBytes {
					t.Fatalf("SeedEntropy: %d bytes, %d bits credited, %v", n, pool.bits, err)
				}
				return
			}
			var he *EntropyHealthError
			if !errors.As(err, &he) || !errors.Is(err, ErrEntropyHealth) {
				t.Fatalf("SeedEntropy: %d bytes, %v; want an *EntropyHealthError", n, err)
			}
			if he.Check != tc.check || he.Answer != tc.answer || he.Length != len(tc.answers[tc.answer-1]) || he.Count != tc.count {
				t.Fatalf("EntropyHealthError %+v, want check %q, answer %d, count %d", he, tc.check, tc.answer, tc.count)
			}
			if n != 0 || pool.copy != nil || pool.bits != 0 {
				t.Fatalf("a failed check: %d bytes added, pool got %d bytes for %d bits", n, len(pool.copy), pool.bits)
			}
		})
	}
}
