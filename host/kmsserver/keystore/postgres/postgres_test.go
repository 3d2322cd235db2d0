// SPDX-License-Identifier: Apache-2.0

package postgres_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/storetest"
	"github.com/enclavekit/enclavekit/internal/pgtest"
)

func open(t *testing.T, cfg *postgres.Config) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testOperationTimeout is the OperationTimeout of the tests whose subject
// is not that timeout. The conformance suite's concurrency cases serialize
// a hundred or more committed transactions on one row (the suite runs its
// cases in parallel, and beside it a second replica may do the same), so
// on a loaded machine one operation can wait behind the others for longer
// than the 5s default; the outage tests' proxy refuses connections during
// the outage, so there methods fail at once whatever it is, while before
// and after it the timeout bounds opening, migrating and serving, which a
// second (as it was) did not always allow on a loaded machine.
const testOperationTimeout = 30 * time.Second

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keystore.Store {
		return open(t, &postgres.Config{URL: pgtest.URL(t), OperationTimeout: testOperationTimeout})
	})
}

// TestConformanceTwoReplicas runs the suite on one store while a second
// store (another "replica") on the same schema does the same work: the
// suite's counts would be off if either saw a stale or lost write.
func TestReplicasShareState(t *testing.T) {
	u := pgtest.URL(t)
	a := open(t, &postgres.Config{URL: u, OperationTimeout: testOperationTimeout})
	b := open(t, &postgres.Config{URL: u, OperationTimeout: testOperationTimeout})
	ctx := context.Background()
	k := storetest.NewKey(storetest.ID(1))
	if err := a.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetKey(ctx, k.ID); err != nil || got.Revision != 1 {
		t.Fatalf("key created on a, read on b: %+v %v", got, err)
	}
	if _, err := b.UpdateKey(ctx, k.ID, func(k *keystore.Key) error { k.State = keystore.StateDisabled; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.GetKey(ctx, k.ID); got.State != keystore.StateDisabled {
		t.Fatalf("DisableKey on b not seen by a: %+v", got)
	}
	// Concurrent increments from both replicas lose nothing.
	var wg sync.WaitGroup
	for _, s := range []*postgres.Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := s.UpdateKey(ctx, k.ID, func(k *keystore.Key) error { k.PendingWindowInDays++; return nil }); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	// And an alias race between them has one winner.
	errs := make(chan error, 2)
	for _, s := range []*postgres.Store{a, b} {
		go func() { errs <- s.CreateAlias(ctx, keystore.Alias{Name: "alias/x", KeyID: k.ID}) }()
	}
	e1, e2 := <-errs, <-errs
	wg.Wait()
	if (e1 == nil) == (e2 == nil) || !(errors.Is(e1, keystore.ErrExists) || errors.Is(e2, keystore.ErrExists)) {
		t.Fatalf("alias race between replicas: %v, %v; want one nil and one ErrExists", e1, e2)
	}
	got, _ := b.GetKey(ctx, k.ID)
	if got.PendingWindowInDays != 40 || got.Revision != 42 {
		t.Fatalf("after 40 increments from two replicas: counter %d revision %d", got.PendingWindowInDays, got.Revision)
	}
}

// TestConcurrentMigration opens eight stores on one fresh schema at once:
// the advisory lock makes exactly one apply the migration.
func TestConcurrentMigration(t *testing.T) {
	u := pgtest.URL(t)
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, 8)
	errs := make([]error, 8)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = postgres.Open(context.Background(), &postgres.Config{URL: u, MaxConns: 2})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var n, v int
	if err := stores[0].Pool().QueryRow(context.Background(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != postgres.SchemaVersion() || v != postgres.SchemaVersion() {
		t.Fatalf("schema_migrations has %d rows up to version %d, want %d", n, v, postgres.SchemaVersion())
	}
	// Reopening is a no-op.
	open(t, &postgres.Config{URL: u})
}

func TestSchemaTooNew(t *testing.T) {
	u := pgtest.URL(t)
	s := open(t, &postgres.Config{URL: u})
	if _, err := s.Pool().Exec(context.Background(), `INSERT INTO schema_migrations (version, description) VALUES (999, 'from the future')`); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(context.Background(), &postgres.Config{URL: u})
	if !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Fatalf("Open on a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	u := pgtest.URL(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, &postgres.Config{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	k := storetest.NewKey(storetest.ID(5))
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAlias(ctx, keystore.Alias{Name: "alias/p", KeyID: k.ID}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := open(t, &postgres.Config{URL: u})
	got, err := s2.GetKey(ctx, k.ID)
	if err != nil || string(got.WrappedMaterial) != string(k.WrappedMaterial) || !got.CreatedAt.Equal(k.CreatedAt) {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	if a, err := s2.GetAlias(ctx, "alias/p"); err != nil || a.KeyID != k.ID {
		t.Fatalf("alias after reopen: %+v %v", a, err)
	}
}

func TestSynchronousCommitOn(t *testing.T) {
	s := open(t, &postgres.Config{URL: pgtest.WithParam(t, pgtest.URL(t), "synchronous_commit", "off")})
	var v string
	if err := s.Pool().QueryRow(context.Background(), `SHOW synchronous_commit`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "on" {
		t.Fatalf("synchronous_commit = %s, want on", v)
	}
}

// TestOpenUnreachable: Open fails with ErrUnavailable, within a bound far
// above its OperationTimeout (1 s; Open's own work is bounded by a few of
// them), when nothing listens (127.0.0.1:1: privileged, never handed out,
// so no other test can be listening there) and when the server accepts
// connections and never answers.
func TestOpenUnreachable(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	t.Cleanup(func() { silent.Close(); held.Wait() })
	held.Add(1)
	go func() {
		defer held.Done()
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never answered
		}
	}()
	const bound = 30 * time.Second
	for _, addr := range []string{"127.0.0.1:1", silent.Addr().String()} {
		start := time.Now()
		_, err := postgres.Open(context.Background(), &postgres.Config{
			URL: "postgres://u:secretpw@" + addr + "/db?sslmode=disable", OperationTimeout: time.Second})
		if !errors.Is(err, keystore.ErrUnavailable) {
			t.Fatalf("Open with no server at %s: %v, want ErrUnavailable", addr, err)
		}
		if d := time.Since(start); d > bound {
			t.Fatalf("Open with no server at %s took %v (OperationTimeout 1s)", addr, d)
		}
	}
	_, err = postgres.Open(context.Background(), &postgres.Config{URL: "postgres://u:secretpw@[bad"})
	if err == nil || containsAny(err.Error(), "secretpw") {
		t.Fatalf("invalid URL: %v (must not quote the password)", err)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		for i := 0; i+len(sub) <= len(s); i++ {
			if s[i:i+len(sub)] == sub {
				return true
			}
		}
	}
	return false
}

// TestTerminatedConnections cuts every connection of the store's pool with
// pg_terminate_backend: the next calls succeed on fresh connections.
func TestTerminatedConnections(t *testing.T) {
	u := pgtest.URL(t)
	u = pgtest.WithParam(t, u, "application_name", "pgtest-terminate")
	s := open(t, &postgres.Config{URL: u})
	ctx := context.Background()
	for i := range 4 {
		if err := s.CreateKey(ctx, storetest.NewKey(storetest.ID(i))); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 {
		pgtest.Exec(t, pgtest.BaseURL(t), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgtest-terminate'`)
		for i := range 4 {
			if _, err := s.GetKey(ctx, storetest.ID(i)); err != nil {
				t.Fatalf("round %d: GetKey after pg_terminate_backend: %v", round, err)
			}
			if _, err := s.UpdateKey(ctx, storetest.ID(i), func(k *keystore.Key) error { k.PendingWindowInDays++; return nil }); err != nil {
				t.Fatalf("round %d: UpdateKey after pg_terminate_backend: %v", round, err)
			}
		}
	}
}

// TestOutage: with the database unreachable every method fails with
// ErrUnavailable (no cached reads by default, even for marked requests);
// when it returns the store recovers by itself.
func TestOutage(t *testing.T) {
	u := pgtest.URL(t)
	p := pgtest.NewProxy(t, u)
	s := open(t, &postgres.Config{URL: p.URL(t, u), OperationTimeout: testOperationTimeout})
	ctx := context.Background()
	k := storetest.NewKey(storetest.ID(1))
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAlias(ctx, keystore.Alias{Name: "alias/o", KeyID: k.ID}); err != nil {
		t.Fatal(err)
	}
	p.SetDown(true)
	cctx := keystore.WithCachedReads(ctx)
	if _, err := s.GetKey(cctx, k.ID); !errors.Is(err, keystore.ErrUnavailable) {
		t.Fatalf("GetKey during outage: %v, want ErrUnavailable", err)
	}
	var ue *postgres.UnavailableError
	if _, err := s.GetAlias(cctx, "alias/o"); !errors.As(err, &ue) || ue.Op != "GetAlias" {
		t.Fatalf("GetAlias during outage: %v, want *UnavailableError for GetAlias", err)
	}
	if err := s.CreateKey(ctx, storetest.NewKey(storetest.ID(2))); !errors.Is(err, keystore.ErrUnavailable) {
		t.Fatalf("CreateKey during outage: %v, want ErrUnavailable", err)
	}
	if _, err := s.UpdateKey(ctx, k.ID, func(*keystore.Key) error { return nil }); !errors.Is(err, keystore.ErrUnavailable) {
		t.Fatalf("UpdateKey during outage: %v, want ErrUnavailable", err)
	}
	p.SetDown(false)
	// Recovery is the pool's: a call fails only on a connection cut during
	// the outage and still idle (each failing call drops at least one), so
	// one call more than the pool can hold succeeds.
	for attempt := int32(0); ; attempt++ {
		_, err := s.GetKey(ctx, k.ID)
		if err == nil {
			break
		}
		if max := s.Pool().Config().MaxConns; attempt >= max {
			t.Fatalf("store did not recover (%d calls, the pool holds at most %d connections): %v", attempt+1, max, err)
		}
	}
	if err := s.CreateKey(ctx, storetest.NewKey(storetest.ID(2))); err != nil {
		t.Fatalf("CreateKey after recovery: %v", err)
	}
}

// TestCachedReadsOnOutage: with the option on, marked reads of records seen
// before answer from the cache during an outage, unmarked ones and unseen
// records still fail, and entries expire after CachedReadsMaxAge.
func TestCachedReadsOnOutage(t *testing.T) {
	u := pgtest.URL(t)
	p := pgtest.NewProxy(t, u)
	var mu sync.Mutex
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := open(t, &postgres.Config{URL: p.URL(t, u), OperationTimeout: testOperationTimeout,
		CachedReadsOnOutage: true, CachedReadsMaxAge: time.Minute, Clock: clock})
	ctx := context.Background()
	k := storetest.NewKey(storetest.ID(1))
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, storetest.NewKey(storetest.ID(2))); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAlias(ctx, keystore.Alias{Name: "alias/c", KeyID: k.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	// Another replica disables key 1 directly in the database: this store
	// must see it while the database is up.
	other := open(t, &postgres.Config{URL: u})
	if _, err := other.UpdateKey(ctx, k.ID, func(k *keystore.Key) error { k.State = keystore.StateDisabled; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetKey(keystore.WithCachedReads(ctx), k.ID); got.State != keystore.StateDisabled {
		t.Fatalf("cache served a stale key while the database was up: %+v", got)
	}
	p.SetDown(true)
	cctx := keystore.WithCachedReads(ctx)
	got, err := s.GetKey(cctx, k.ID)
	if err != nil || got.State != keystore.StateDisabled || string(got.WrappedMaterial) != string(k.WrappedMaterial) {
		t.Fatalf("cached GetKey during outage: %+v, %v", got, err)
	}
	if a, err := s.GetAlias(cctx, "alias/c"); err != nil || a.KeyID != k.ID {
		t.Fatalf("cached GetAlias during outage: %+v, %v", a, err)
	}
	if _, err := s.GetKey(ctx, k.ID); !errors.Is(err, keystore.ErrUnavailable) {
		t.Fatalf("unmarked GetKey during outage: %v, want ErrUnavailable", err)
	}
	if _, err := s.GetKey(cctx, storetest.ID(9)); !errors.Is(err, keystore.ErrUnavailable) {
		t.Fatalf("GetKey of an uncached key during outage: %v, want ErrUnavailable", err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := s.GetKey(cctx, k.ID); !errors.Is(err, keystore.ErrUnavailable) {
		t.Fatalf("expired cache entry: %v, want ErrUnavailable", err)
	}
}

// TestNowIsTheDatabaseClock: Now answers the database server's clock (here
// the same machine's, so within a second of ours), and fails with
// keystore.ErrUnavailable when the database cannot be reached.
func TestNowIsTheDatabaseClock(t *testing.T) {
	u := pgtest.URL(t)
	p := pgtest.NewProxy(t, u)
	s := open(t, &postgres.Config{URL: p.URL(t, u), OperationTimeout: testOperationTimeout})
	ctx := context.Background()
	got, err := s.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(got); d > time.Second || d < -time.Second {
		t.Fatalf("database clock %v, ours %v", got, time.Now())
	}
	p.SetDown(true)
	if _, err := s.Now(ctx); !errors.Is(err, keystore.ErrUnavailable) {
		t.Fatalf("Now during an outage: %v, want ErrUnavailable", err)
	}
}
