// SPDX-License-Identifier: Apache-2.0

package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/storetest"
	"github.com/enclavekit/enclavekit/internal/pgtest"
)

// BenchmarkStore compares the directory store with PostgreSQL for the
// operations the kms-server does per request: GetKey (every cryptographic
// request), UpdateKey and CreateKey (admin requests), in parallel.
func BenchmarkStore(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) keystore.Store
	}{
		{"dir", func(b *testing.B) keystore.Store {
			d, err := keystore.OpenDir(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return d
		}},
		{"postgres", func(b *testing.B) keystore.Store {
			s, err := postgres.Open(context.Background(), &postgres.Config{URL: pgtest.URL(b)})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	ctx := context.Background()
	for _, be := range backends {
		b.Run(be.name+"/GetKey", func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			for i := range 16 {
				if err := s.CreateKey(ctx, storetest.NewKey(storetest.ID(i))); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.GetKey(ctx, storetest.ID(int(n.Add(1)%16))); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		b.Run(be.name+"/UpdateKey", func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			for i := range 16 {
				if err := s.CreateKey(ctx, storetest.NewKey(storetest.ID(i))); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.UpdateKey(ctx, storetest.ID(int(n.Add(1)%16)), func(k *keystore.Key) error {
						k.PendingWindowInDays++
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		b.Run(be.name+"/CreateKey", func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := storetest.NewKey(fmt.Sprintf("%08x-0000-4000-8000-000000000000", n.Add(1)))
					if err := s.CreateKey(ctx, k); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
