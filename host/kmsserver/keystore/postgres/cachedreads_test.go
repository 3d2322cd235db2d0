// SPDX-License-Identifier: Apache-2.0

package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/storetest"
	"github.com/enclavekit/enclavekit/internal/pgtest"
)

// TestCachedReadKeepsNewestRevision: a GetKey that read a key before this
// replica's UpdateKey disabled it, and returned after that update, must
// not replace the update's cache entry with its older record: during an
// outage that follows, a marked read serves the key as this replica last
// wrote it (Disabled), never an older revision (Enabled).
//
// The interleaving is made deterministic by putting a view in front of the
// keys table whose first evaluation sleeps after the row was read.
func TestCachedReadKeepsNewestRevision(t *testing.T) {
	u := pgtest.URL(t)
	p := pgtest.NewProxy(t, u)
	s := open(t, &postgres.Config{URL: p.URL(t, u), OperationTimeout: testOperationTimeout,
		CachedReadsOnOutage: true, CachedReadsMaxAge: time.Hour})
	ctx := context.Background()
	k := storetest.NewKey(storetest.ID(1))
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	// Test scaffolding: the first read of the table sleeps 1.5 s after its
	// snapshot, so that the update below commits while the read is in
	// flight.
	for _, q := range []string{
		`ALTER TABLE keys RENAME TO keys_real`,
		`CREATE SEQUENCE slowseq`,
		`CREATE FUNCTION slow() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN IF nextval('slowseq') = 1 THEN PERFORM pg_sleep(1.5); END IF; RETURN true; END $$`,
		`CREATE VIEW keys AS SELECT * FROM keys_real WHERE slow()`,
	} {
		pgtest.Exec(t, u, q)
	}
	s.Pool().Reset()

	type res struct {
		k   *keystore.Key
		err error
	}
	done := make(chan res, 1)
	go func() {
		k, err := s.GetKey(ctx, k.ID) // reads revision 1 (Enabled), returns after the update
		done <- res{k, err}
	}()
	time.Sleep(500 * time.Millisecond)
	upd, err := s.UpdateKey(ctx, k.ID, func(k *keystore.Key) error { k.State = keystore.StateDisabled; return nil })
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.k.Revision >= upd.Revision {
		t.Fatalf("the racing GetKey returned revision %d, not older than the update's %d: the test proves nothing", r.k.Revision, upd.Revision)
	}

	p.SetDown(true) // the outage, after the disable was acknowledged
	got, err := s.GetKey(keystore.WithCachedReads(ctx), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != keystore.StateDisabled || got.Revision != upd.Revision {
		t.Fatalf("cached read during the outage served revision %d (%s), older than revision %d (%s) this replica wrote before the outage",
			got.Revision, got.State, upd.Revision, upd.State)
	}
}

// TestCachedReadAgeStartsAtLastRead: a read of the revision already cached
// renews the entry, so CachedReadsMaxAge counts from this replica's last
// read of the key.
func TestCachedReadAgeStartsAtLastRead(t *testing.T) {
	u := pgtest.URL(t)
	p := pgtest.NewProxy(t, u)
	var mu sync.Mutex
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := open(t, &postgres.Config{URL: p.URL(t, u), OperationTimeout: testOperationTimeout,
		CachedReadsOnOutage: true, CachedReadsMaxAge: time.Minute, Clock: clock})
	ctx := context.Background()
	k := storetest.NewKey(storetest.ID(1))
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	advance(50 * time.Second)
	if _, err := s.GetKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	advance(50 * time.Second) // 100 s after the create, 50 s after the read
	p.SetDown(true)
	cctx := keystore.WithCachedReads(ctx)
	if _, err := s.GetKey(cctx, k.ID); err != nil {
		t.Fatalf("cached read 50 s after the last read: %v", err)
	}
	advance(11 * time.Second)
	if _, err := s.GetKey(cctx, k.ID); !errors.Is(err, keystore.ErrUnavailable) {
		t.Fatalf("cached read 61 s after the last read: %v, want ErrUnavailable", err)
	}
}

// TestCachedReadForgetsObservedDeletion: this replica read a key and its
// alias (cached); another replica deletes both, and this replica answers
// NotFound for them. In an outage that follows, marked reads must not
// serve the deleted alias or key from the cache: a deletion this replica
// has observed stays observed.
func TestCachedReadForgetsObservedDeletion(t *testing.T) {
	u := pgtest.URL(t)
	p := pgtest.NewProxy(t, u)
	s := open(t, &postgres.Config{URL: p.URL(t, u), OperationTimeout: testOperationTimeout,
		CachedReadsOnOutage: true, CachedReadsMaxAge: time.Hour})
	other := open(t, &postgres.Config{URL: u, OperationTimeout: testOperationTimeout})
	ctx := context.Background()
	k := storetest.NewKey(storetest.ID(1))
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alias/gone", "alias/also-gone"} {
		if err := s.CreateAlias(ctx, keystore.Alias{Name: name, KeyID: k.ID}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.GetKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := other.DeleteKey(ctx, k.ID, nil); err != nil { // the key and its aliases, on another replica
		t.Fatal(err)
	}
	if _, err := s.GetKey(ctx, k.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("GetKey after the deletion: %v", err)
	}
	if _, err := s.GetAlias(ctx, "alias/gone"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("GetAlias after the deletion: %v", err)
	}
	p.SetDown(true)
	cctx := keystore.WithCachedReads(ctx)
	// alias/gone was read as NotFound; alias/also-gone was not read again,
	// but names the key this replica saw deleted.
	for _, name := range []string{"alias/gone", "alias/also-gone"} {
		if a, err := s.GetAlias(cctx, name); !errors.Is(err, keystore.ErrUnavailable) {
			t.Errorf("during the outage GetAlias(%s) of a deleted alias: %+v, %v; want ErrUnavailable", name, a, err)
		}
	}
	if got, err := s.GetKey(cctx, k.ID); !errors.Is(err, keystore.ErrUnavailable) {
		t.Errorf("during the outage GetKey of the key seen deleted: %+v, %v; want ErrUnavailable", got, err)
	}
}

// TestOpenRefusesLongCachedReadsMaxAge: a CachedReadsMaxAge above
// MaxCachedReadsMaxAge (an hour) is refused before any connection.
func TestOpenRefusesLongCachedReadsMaxAge(t *testing.T) {
	_, err := postgres.Open(context.Background(), &postgres.Config{URL: "postgres://u:p@127.0.0.1:1/db",
		CachedReadsOnOutage: true, CachedReadsMaxAge: postgres.MaxCachedReadsMaxAge + time.Second})
	if err == nil || !strings.Contains(err.Error(), "CachedReadsMaxAge") {
		t.Fatalf("Open with CachedReadsMaxAge over an hour: %v", err)
	}
}
