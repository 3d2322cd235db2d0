// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"errors"
	"fmt"

	"github.com/enclavekit/enclavekit/enclave"
)

// ErrUnsupported is returned by the tasks that need Linux.
var ErrUnsupported = errors.New("boot: not supported on this platform")

// DefaultSeedBytes is how much [SeedEntropy] adds when asked for 0 bytes:
// two NSM GetRandom answers, well over the kernel's 256-bit pool.
const DefaultSeedBytes = 512

// EntropyPool takes entropy into a random pool, crediting bits of it.
type EntropyPool interface {
	AddEntropy(data []byte, bits int) error
}

// SeedEntropy reads n bytes (0: DefaultSeedBytes) from the NSM's GetRandom
// and adds them to pool (the kernel's, from [KernelPool]), crediting 8 bits
// per byte: the NSM's source is the Nitro hypervisor's hardware RNG. The
// buffer is cleared afterwards. It returns the number of bytes added.
func SeedEntropy(nsm enclave.NSM, pool EntropyPool, n int) (int, error) {
	if nsm == nil || pool == nil {
		return 0, errors.New("boot: SeedEntropy needs an NSM and a pool")
	}
	if n <= 0 {
		n = DefaultSeedBytes
	}
	buf := make([]byte, 0, n)
	defer func() { clear(buf[:cap(buf)]) }()
	for len(buf) < n {
		r, err := nsm.GetRandom()
		if err != nil {
			return 0, fmt.Errorf("boot: NSM GetRandom: %w", err)
		}
		if len(r) == 0 {
			return 0, errors.New("boot: NSM GetRandom returned no bytes")
		}
		buf = append(buf, r[:min(len(r), n-len(buf))]...)
		clear(r)
	}
	if err := pool.AddEntropy(buf, 8*len(buf)); err != nil {
		return 0, fmt.Errorf("boot: adding entropy to the kernel pool: %w", err)
	}
	return len(buf), nil
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
