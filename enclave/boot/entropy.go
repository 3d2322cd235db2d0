// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/enclavekit/enclavekit/enclave"
)

// ErrUnsupported is returned by the tasks that need Linux.
var ErrUnsupported = errors.New("boot: not supported on this platform")

// DefaultSeedBytes is how much [SeedEntropy] adds when asked for 0 bytes:
// two NSM GetRandom answers, well over the kernel's 256-bit pool.
const DefaultSeedBytes = 512

// ErrEntropyHealth is matched by an [EntropyHealthError].
var ErrEntropyHealth = errors.New("boot: the NSM's random bytes failed a health check")

// The checks [SeedEntropy] makes on each GetRandom answer, as named in
// [EntropyHealthError].Check.
const (
	EntropyCheckShort              = "short"
	EntropyCheckZero               = "all-zero"
	EntropyCheckRepeat             = "repeated-answer"
	EntropyCheckRepetitionCount    = "repetition-count"
	EntropyCheckAdaptiveProportion = "adaptive-proportion"
)

// EntropyHealthError reports a GetRandom answer that failed a check of
// [SeedEntropy]: nothing was added to the pool.
type EntropyHealthError struct {
	// Answer is which answer failed, from 1; Length its length in bytes.
	Answer, Length int
	// Check is the check it failed (EntropyCheck...).
	Check string
	// Count is, for EntropyCheckRepeat, the number of the earlier answer
	// it repeats; for EntropyCheckRepetitionCount, the length of the run
	// of equal bytes; for EntropyCheckAdaptiveProportion, how many times
	// the window's first byte occurs in it; else 0.
	Count int
}

func (e *EntropyHealthError) Error() string {
	return fmt.Sprintf("boot: the NSM's GetRandom answer %d (%d bytes) failed the %s check (count %d): refusing to credit it as entropy", e.Answer, e.Length, e.Check, e.Count)
}

// Is matches [ErrEntropyHealth].
func (e *EntropyHealthError) Is(target error) bool { return target == ErrEntropyHealth }

// EntropyPool takes entropy into a random pool, crediting bits of it.
type EntropyPool interface {
	AddEntropy(data []byte, bits int) error
}

// SeedEntropy reads n bytes (0: DefaultSeedBytes) from the NSM's GetRandom
// and adds them to pool (the kernel's, from [KernelPool]), crediting 8 bits
// per byte: the NSM's source is the Nitro hypervisor's hardware RNG. The
// buffer is cleared afterwards. It returns the number of bytes added.
//
// Since it credits them as full entropy, it first checks every answer and
// fails closed, adding nothing, with an [EntropyHealthError] on one that
// is no entropy:
//
//  1. shorter than [MinRandomAnswer] bytes (the device answers 256; on
//     fewer the checks below cannot tell a failure from chance);
//  2. all zeros: a stuck or unset source;
//  3. identical to an earlier answer: a replayed or stuck one;
//  4. a run of [RepetitionCutoff] equal bytes: the repetition count test
//     of NIST SP 800-90B (section 4.4.1), with the cutoff 1+⌈40/H⌉ for a
//     false-alarm rate of 2^-40 per byte and H = 8 bits per byte, the
//     entropy credited;
//  5. the first byte of a window of up to 512 bytes occurring
//     [ProportionCutoff] times in it: the adaptive proportion test of SP
//     800-90B (section 4.4.2), window 512, H = 8, false-alarm rate
//     2^-40 (1 plus a binomial(511, 2^-8) count reaching 20).
//
// These catch a source that is broken outright (stuck, replaying, badly
// biased), not a subtly weak or hostile one: the NSM's output is already
// conditioned, and no test of its bytes can prove them unpredictable. A
// healthy source fails them about once in 2^32 answers (the repetition
// count test, over 256 bytes), and init then stops before the
// application runs: a boot again draws new bytes.
func SeedEntropy(nsm enclave.NSM, pool EntropyPool, n int) (int, error) {
	if nsm == nil || pool == nil {
		return 0, errors.New("boot: SeedEntropy needs an NSM and a pool")
	}
	if n <= 0 {
		n = DefaultSeedBytes
	}
	buf := make([]byte, 0, n)
	defer func() { clear(buf[:cap(buf)]) }()
	var earlier [][]byte // the answers so far, whole, in buf (only the last may be cut)
	for len(buf) < n {
		r, err := nsm.GetRandom()
		if err != nil {
			return 0, fmt.Errorf("boot: NSM GetRandom: %w", err)
		}
		if len(r) == 0 {
			return 0, errors.New("boot: NSM GetRandom returned no bytes")
		}
		herr := checkRandom(r, earlier)
		if herr != nil {
			clear(r)
			herr.Answer = len(earlier) + 1
			return 0, herr
		}
		start := len(buf)
		buf = append(buf, r[:min(len(r), n-len(buf))]...)
		earlier = append(earlier, buf[start:])
		clear(r)
	}
	if err := pool.AddEntropy(buf, 8*len(buf)); err != nil {
		return 0, fmt.Errorf("boot: adding entropy to the kernel pool: %w", err)
	}
	return len(buf), nil
}

// The bounds of [SeedEntropy]'s checks.
const (
	// MinRandomAnswer is the shortest GetRandom answer accepted.
	MinRandomAnswer = 32
	// RepetitionCutoff is the run of equal bytes refused: 1+⌈40/8⌉.
	RepetitionCutoff = 6
	// ProportionCutoff is the count of a window's first byte in its window
	// (512 bytes, or the rest of the answer) that is refused.
	ProportionCutoff = 20
	proportionWindow = 512
)

// checkRandom makes SeedEntropy's checks on one answer, in order; earlier
// are the answers before it (whole, except perhaps the last of them, which
// then is not whole only because it was the last needed).
func checkRandom(r []byte, earlier [][]byte) *EntropyHealthError {
	fail := func(check string, count int) *EntropyHealthError {
		return &EntropyHealthError{Length: len(r), Check: check, Count: count}
	}
	if len(r) < MinRandomAnswer {
		return fail(EntropyCheckShort, 0)
	}
	zero := true
	for _, b := range r {
		if b != 0 {
			zero = false
			break
		}
	}
	if zero {
		return fail(EntropyCheckZero, 0)
	}
	for i, e := range earlier {
		if bytes.Equal(r, e) {
			return fail(EntropyCheckRepeat, i+1)
		}
	}
	for i := 0; i < len(r); {
		j := i + 1
		for j < len(r) && r[j] == r[i] {
			j++
		}
		if j-i >= RepetitionCutoff {
			return fail(EntropyCheckRepetitionCount, j-i)
		}
		i = j
	}
	for w := 0; w < len(r); w += proportionWindow {
		win := r[w:min(len(r), w+proportionWindow)]
		if c := bytes.Count(win, win[:1]); c >= ProportionCutoff {
			return fail(EntropyCheckAdaptiveProportion, c)
		}
	}
	return nil
}

// randPoolInfo encodes struct rand_pool_info (linux/random.h) for
// RNDADDENTROPY: int entropy_count (bits), int buf_size (bytes), then the
// bytes, in native (little-endian on every Nitro platform) order.
func randPoolInfo(data []byte, bits int) []byte {
	b := make([]byte, 8+len(data))
	putInt32LE(b[0:4], int32(bits))
	putInt32LE(b[4:8], int32(len(data)))
	copy(b[8:], data)
	return b
}

func putInt32LE(b []byte, v int32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
