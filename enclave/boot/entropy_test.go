// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"bytes"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/enclave/emulator"
)

// recordingNSM keeps a copy of every GetRandom answer.
type recordingNSM struct {
	enclave.NSM
	mu   sync.Mutex
	got  []byte
	fail bool
}

func (r *recordingNSM) GetRandom() ([]byte, error) {
	if r.fail {
		return nil, enclave.ErrInternal
	}
	b, err := r.NSM.GetRandom()
	r.mu.Lock()
	r.got = append(r.got, b...)
	r.mu.Unlock()
	return b, err
}

// fakePool keeps the slice it was given (to check it is cleared after) and
// a copy of its contents.
type fakePool struct {
	given, copy []byte
	bits        int
	err         error
}

func (p *fakePool) AddEntropy(data []byte, bits int) error {
	p.given, p.copy, p.bits = data, bytes.Clone(data), bits
	return p.err
}

func newEmulator(t testing.TB) enclave.NSM {
	t.Helper()
	e, err := emulator.New(&emulator.Config{Debug: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestSeedEntropy(t *testing.T) {
	nsm := &recordingNSM{NSM: newEmulator(t)}
	for _, n := range []int{0, 1, 256, 300} {
		nsm.got = nil
		pool := &fakePool{}
		got, err := SeedEntropy(nsm, pool, n)
		want := n
		if n == 0 {
			want = DefaultSeedBytes
		}
		if err != nil || got != want || len(pool.copy) != want || pool.bits != 8*want {
			t.Fatalf("SeedEntropy(%d): %d bytes, %d credited, %v", n, len(pool.copy), pool.bits, err)
		}
		if !bytes.Equal(pool.copy, nsm.got[:want]) {
			t.Fatalf("SeedEntropy(%d): the pool did not get the NSM's GetRandom bytes", n)
		}
		if !bytes.Equal(pool.given, make([]byte, len(pool.given))) {
			t.Fatalf("SeedEntropy(%d): the seed was not cleared after use", n)
		}
	}
	if _, err := SeedEntropy(&recordingNSM{NSM: newEmulator(t), fail: true}, &fakePool{}, 0); !errors.Is(err, enclave.ErrInternal) {
		t.Fatalf("NSM failure: %v", err)
	}
	poolErr := errors.New("EPERM")
	if _, err := SeedEntropy(nsm, &fakePool{err: poolErr}, 0); !errors.Is(err, poolErr) {
		t.Fatalf("pool failure: %v", err)
	}
}

func TestRandPoolInfo(t *testing.T) {
	got := randPoolInfo([]byte{0xaa, 0xbb, 0xcc}, 24)
	want := []byte{24, 0, 0, 0, 3, 0, 0, 0, 0xaa, 0xbb, 0xcc}
	if !bytes.Equal(got, want) {
		t.Fatalf("rand_pool_info = %x, want %x", got, want)
	}
}
