// SPDX-License-Identifier: Apache-2.0

// Package storetest is the conformance suite every
// [github.com/enclavekit/enclavekit/host/kmsserver/keystore.Store] backend must
// pass: create/read/update/list semantics, the ErrExists / ErrNotFound
// sentinels, verbatim storage of every field, ordering of lists, atomic
// read-modify-write under concurrency and alias uniqueness under concurrent
// CreateAlias.
//
// A backend's test calls [Run] with a function that opens a fresh, empty
// store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) keystore.Store {
//			s, err := keystore.OpenDir(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// Open returns a fresh, empty store; Run closes it at the end of each
// subtest.
type Open func(t *testing.T) keystore.Store

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s keystore.Store)
	}{
		{"KeyRoundTrip", testKeyRoundTrip},
		{"CreateKeyExists", testCreateKeyExists},
		{"GetKeyNotFound", testGetKeyNotFound},
		{"GetKeyReturnsCopy", testGetKeyReturnsCopy},
		{"UpdateKey", testUpdateKey},
		{"UpdateKeyAbort", testUpdateKeyAbort},
		{"UpdateKeyNotFound", testUpdateKeyNotFound},
		{"ListKeysOrdered", testListKeysOrdered},
		{"Aliases", testAliases},
		{"ListAliasesOrdered", testListAliasesOrdered},
		{"DeleteKey", testDeleteKey},
		{"DeleteKeyCheck", testDeleteKeyCheck},
		{"ConcurrentUpdateKey", testConcurrentUpdateKey},
		{"ConcurrentCreateAlias", testConcurrentCreateAlias},
		{"ConcurrentCreateKey", testConcurrentCreateKey},
		{"Closed", testClosed},
		{"UpdateAlias", testUpdateAlias},
		{"ConcurrentUpdateAlias", testConcurrentUpdateAlias},
		{"ConcurrentRotations", testConcurrentRotations},
		{"KeyRecordTooLarge", testKeyRecordTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// ID returns a key ID (a UUID) numbered n, so tests can predict the order.
func ID(n int) string {
	return fmt.Sprintf("%08x-1c2d-4e5f-8a9b-0c1d2e3f4a5b", n)
}

// NewKey returns a key with every field set to a distinct value, times
// with nanoseconds and a non-UTC zone offset stripped (stores keep UTC).
func NewKey(id string) *keystore.Key {
	return &keystore.Key{
		ID:                  id,
		CreatedAt:           time.Date(2026, 11, 28, 23, 1, 2, 123456789, time.UTC),
		Description:         "conformance key \u00e9\u2603 \"quoted\"",
		KeySpec:             "SYMMETRIC_DEFAULT",
		KeyUsage:            "ENCRYPT_DECRYPT",
		State:               keystore.StateEnabled,
		Policy:              `{"Version":"2012-10-17","Statement":[]}`,
		WrappedMaterial:     []byte{0, 1, 2, 0xfe, 0xff, 0},
		PendingWindowInDays: 0,
		Tags:                []keystore.Tag{{Key: "env", Value: "prod \u00e9"}, {Key: "empty", Value: ""}},
		MaterialID:          "c0ffee",
		RetiredMaterials:    []keystore.RetiredMaterial{{MaterialID: "", WrappedMaterial: []byte{9, 0, 8}}, {MaterialID: "beef", WrappedMaterial: []byte{0}}},
		Rotations: []keystore.Rotation{{MaterialID: "beef", Date: time.Date(2026, 11, 29, 1, 2, 3, 0, time.UTC), Type: "ON_DEMAND"},
			{MaterialID: "c0ffee", Date: time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC), Type: "AUTOMATIC"}},
		RotationEnabled:      true,
		RotationPeriodInDays: 365,
		NextRotationDate:     time.Date(2027, 11, 30, 1, 2, 3, 0, time.UTC),
		Grants: []keystore.Grant{{ID: "g1", Name: "n", CreatedAt: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC), GranteePrincipal: "arn:aws:iam::111122223333:role/a",
			RetiringPrincipal: "arn:aws:iam::111122223333:role/b", IssuingAccount: "111122223333", Operations: []string{"Decrypt", "Encrypt"},
			EncryptionContextSubset: map[string]string{"k": "v \u00e9"}}},
	}
}

var bg = context.Background()

func mustCreate(t *testing.T, s keystore.Store, k *keystore.Key) {
	t.Helper()
	if err := s.CreateKey(bg, k); err != nil {
		t.Fatalf("CreateKey(%s): %v", k.ID, err)
	}
}

// sameKey compares every field; times with Equal (location may differ).
func sameKey(t *testing.T, got, want *keystore.Key) {
	t.Helper()
	g, w := got.Clone(), want.Clone()
	if !g.CreatedAt.Equal(w.CreatedAt) || !g.DeletionDate.Equal(w.DeletionDate) {
		t.Errorf("times: got created %v deletion %v, want %v %v", g.CreatedAt, g.DeletionDate, w.CreatedAt, w.DeletionDate)
	}
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	g.DeletionDate, w.DeletionDate = time.Time{}, time.Time{}
	if !g.NextRotationDate.Equal(w.NextRotationDate) || len(g.Rotations) != len(w.Rotations) {
		t.Errorf("rotation: got next %v, %d rotations, want %v, %d", g.NextRotationDate, len(g.Rotations), w.NextRotationDate, len(w.Rotations))
	}
	g.NextRotationDate, w.NextRotationDate = time.Time{}, time.Time{}
	for i := range min(len(g.Grants), len(w.Grants)) {
		if !g.Grants[i].CreatedAt.Equal(w.Grants[i].CreatedAt) {
			t.Errorf("grant %d date: got %v, want %v", i, g.Grants[i].CreatedAt, w.Grants[i].CreatedAt)
		}
		g.Grants[i].CreatedAt, w.Grants[i].CreatedAt = time.Time{}, time.Time{}
	}
	for i := range min(len(g.Rotations), len(w.Rotations)) {
		if !g.Rotations[i].Date.Equal(w.Rotations[i].Date) {
			t.Errorf("rotation %d date: got %v, want %v", i, g.Rotations[i].Date, w.Rotations[i].Date)
		}
		g.Rotations[i].Date, w.Rotations[i].Date = time.Time{}, time.Time{}
	}
	if len(g.WrappedMaterial) == 0 && len(w.WrappedMaterial) == 0 {
		g.WrappedMaterial, w.WrappedMaterial = nil, nil
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("key differs:\n got %+v\nwant %+v", g, w)
	}
}

func testKeyRoundTrip(t *testing.T, s keystore.Store) {
	k := NewKey(ID(1))
	k.Revision = 42 // ignored: the store starts at 1
	mustCreate(t, s, k)
	got, err := s.GetKey(bg, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := k.Clone()
	want.Revision = 1
	sameKey(t, got, want)

	// Every field survives an update verbatim, pending deletion included.
	del := time.Date(2026, 12, 28, 23, 1, 2, 987654321, time.UTC)
	upd, err := s.UpdateKey(bg, k.ID, func(k *keystore.Key) error {
		k.State = keystore.StatePendingDeletion
		k.DeletionDate = del
		k.PendingWindowInDays = 30
		k.Policy = `{"changed":true}`
		k.Description = ""
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want.State, want.DeletionDate, want.PendingWindowInDays, want.Policy, want.Description, want.Revision =
		keystore.StatePendingDeletion, del, 30, `{"changed":true}`, "", 2
	sameKey(t, upd, want)
	got, err = s.GetKey(bg, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameKey(t, got, want)
}

func testCreateKeyExists(t *testing.T, s keystore.Store) {
	mustCreate(t, s, NewKey(ID(1)))
	other := NewKey(ID(1))
	other.Description = "second"
	if err := s.CreateKey(bg, other); !errors.Is(err, keystore.ErrExists) {
		t.Fatalf("duplicate CreateKey: %v, want ErrExists", err)
	}
	got, err := s.GetKey(bg, ID(1))
	if err != nil {
		t.Fatal(err)
	}
	if got.Description == "second" || got.Revision != 1 {
		t.Fatalf("duplicate CreateKey overwrote the key: %+v", got)
	}
}

func testGetKeyNotFound(t *testing.T, s keystore.Store) {
	if _, err := s.GetKey(bg, ID(9)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("GetKey of a missing key: %v, want ErrNotFound", err)
	}
	mustCreate(t, s, NewKey(ID(1)))
	if _, err := s.GetKey(bg, ID(9)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("GetKey of a missing key: %v, want ErrNotFound", err)
	}
}

func testGetKeyReturnsCopy(t *testing.T, s keystore.Store) {
	k := NewKey(ID(1))
	mustCreate(t, s, k)
	k.WrappedMaterial[0] = 0x55 // the caller's copy, after CreateKey
	k.State = keystore.StateDisabled
	got, _ := s.GetKey(bg, ID(1))
	got.WrappedMaterial[1] = 0x66
	got.State = keystore.StateDisabled
	got.Tags[0].Value = "changed"
	got.RetiredMaterials[0].WrappedMaterial[0] = 0x77
	got.Grants[0].Operations[0] = "Sign"
	got.Grants[0].EncryptionContextSubset["k"] = "changed"
	again, err := s.GetKey(bg, ID(1))
	if err != nil {
		t.Fatal(err)
	}
	sameKey(t, again, &keystore.Key{ID: ID(1), CreatedAt: k.CreatedAt, Description: k.Description, KeySpec: k.KeySpec,
		KeyUsage: k.KeyUsage, State: keystore.StateEnabled, Policy: k.Policy,
		WrappedMaterial: NewKey("").WrappedMaterial, Revision: 1, Tags: NewKey("").Tags, MaterialID: k.MaterialID,
		RetiredMaterials: NewKey("").RetiredMaterials, Rotations: k.Rotations, RotationEnabled: true,
		RotationPeriodInDays: k.RotationPeriodInDays, NextRotationDate: k.NextRotationDate, Grants: NewKey("").Grants})
}

func testUpdateKey(t *testing.T, s keystore.Store) {
	mustCreate(t, s, NewKey(ID(1)))
	calls := 0
	k, err := s.UpdateKey(bg, ID(1), func(k *keystore.Key) error {
		calls++
		if k.ID != ID(1) || k.Revision != 1 || k.State != keystore.StateEnabled {
			return fmt.Errorf("fn got %+v", k)
		}
		k.State = keystore.StateDisabled
		k.ID = ID(2) // ignored: the ID cannot change
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times", calls)
	}
	if k.ID != ID(1) || k.State != keystore.StateDisabled || k.Revision != 2 {
		t.Fatalf("UpdateKey returned %+v", k)
	}
	if _, err := s.GetKey(bg, ID(2)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("UpdateKey changed the key ID: %v", err)
	}
	got, _ := s.GetKey(bg, ID(1))
	if got.State != keystore.StateDisabled || got.Revision != 2 {
		t.Fatalf("after UpdateKey: %+v", got)
	}
	k.State = keystore.StateEnabled // returned key is a copy
	if got, _ := s.GetKey(bg, ID(1)); got.State != keystore.StateDisabled {
		t.Fatal("UpdateKey's result aliases the stored key")
	}
}

type abortError struct{ n int }

func (e *abortError) Error() string { return fmt.Sprintf("abort %d", e.n) }

func testUpdateKeyAbort(t *testing.T, s keystore.Store) {
	mustCreate(t, s, NewKey(ID(1)))
	abort := &abortError{7}
	k, err := s.UpdateKey(bg, ID(1), func(k *keystore.Key) error {
		k.State = keystore.StateDisabled
		return abort
	})
	if err != abort || k != nil {
		t.Fatalf("UpdateKey with failing fn: %v (%T), %v; want fn's error unchanged and nil key", err, err, k)
	}
	got, _ := s.GetKey(bg, ID(1))
	if got.State != keystore.StateEnabled || got.Revision != 1 {
		t.Fatalf("aborted UpdateKey wrote: %+v", got)
	}
}

func testUpdateKeyNotFound(t *testing.T, s keystore.Store) {
	called := false
	_, err := s.UpdateKey(bg, ID(3), func(*keystore.Key) error { called = true; return nil })
	if !errors.Is(err, keystore.ErrNotFound) || called {
		t.Fatalf("UpdateKey of a missing key: %v (fn called %v), want ErrNotFound", err, called)
	}
}

func testListKeysOrdered(t *testing.T, s keystore.Store) {
	l, err := s.ListKeys(bg)
	if err != nil || len(l) != 0 {
		t.Fatalf("ListKeys of an empty store: %v, %v", l, err)
	}
	for _, n := range []int{0xb0, 0x0a, 0xff, 0x1, 0xa0} {
		mustCreate(t, s, NewKey(ID(n)))
	}
	l, err = s.ListKeys(bg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range l {
		ids = append(ids, k.ID)
		if k.Revision != 1 || len(k.WrappedMaterial) == 0 {
			t.Errorf("listed key %+v", k)
		}
	}
	want := []string{ID(0x1), ID(0x0a), ID(0xa0), ID(0xb0), ID(0xff)}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("ListKeys order %v, want %v", ids, want)
	}
}

func testAliases(t *testing.T, s keystore.Store) {
	mustCreate(t, s, NewKey(ID(1)))
	mustCreate(t, s, NewKey(ID(2)))
	at := time.Date(2026, 11, 28, 1, 2, 3, 456789123, time.UTC)
	a := keystore.Alias{Name: "alias/app", KeyID: ID(1), CreatedAt: at}
	if err := s.CreateAlias(bg, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAlias(bg, "alias/app")
	if err != nil || got.Name != a.Name || got.KeyID != a.KeyID || !got.CreatedAt.Equal(at) {
		t.Fatalf("GetAlias: %+v, %v; want %+v", got, err, a)
	}
	if err := s.CreateAlias(bg, keystore.Alias{Name: "alias/app", KeyID: ID(2), CreatedAt: at}); !errors.Is(err, keystore.ErrExists) {
		t.Fatalf("duplicate alias: %v, want ErrExists", err)
	}
	if got, _ := s.GetAlias(bg, "alias/app"); got.KeyID != ID(1) {
		t.Fatalf("duplicate CreateAlias moved the alias to %s", got.KeyID)
	}
	if err := s.CreateAlias(bg, keystore.Alias{Name: "alias/dangling", KeyID: ID(9), CreatedAt: at}); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("alias to a missing key: %v, want ErrNotFound", err)
	}
	if _, err := s.GetAlias(bg, "alias/dangling"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("failed CreateAlias left an alias: %v", err)
	}
	// A taken name wins over a missing target.
	if err := s.CreateAlias(bg, keystore.Alias{Name: "alias/app", KeyID: ID(9), CreatedAt: at}); !errors.Is(err, keystore.ErrExists) {
		t.Fatalf("taken name and missing key: %v, want ErrExists", err)
	}
	if _, err := s.GetAlias(bg, "alias/none"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("GetAlias missing: %v, want ErrNotFound", err)
	}
	if err := s.DeleteAlias(bg, "alias/app"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAlias(bg, "alias/app"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("GetAlias after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteAlias(bg, "alias/app"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("DeleteAlias twice: %v, want ErrNotFound", err)
	}
	// The name is free again, and may point elsewhere.
	if err := s.CreateAlias(bg, keystore.Alias{Name: "alias/app", KeyID: ID(2), CreatedAt: at}); err != nil {
		t.Fatalf("re-create deleted alias: %v", err)
	}
	if got, _ := s.GetAlias(bg, "alias/app"); got.KeyID != ID(2) {
		t.Fatalf("re-created alias points to %s", got.KeyID)
	}
}

func testListAliasesOrdered(t *testing.T, s keystore.Store) {
	l, err := s.ListAliases(bg)
	if err != nil || len(l) != 0 {
		t.Fatalf("ListAliases of an empty store: %v, %v", l, err)
	}
	mustCreate(t, s, NewKey(ID(1)))
	// Byte order, as Go sorts strings (not a locale's collation).
	names := []string{"alias/b", "alias/B", "alias/_x", "alias/a/b", "alias/-y", "alias/a", "alias/Z9"}
	for _, n := range names {
		if err := s.CreateAlias(bg, keystore.Alias{Name: n, KeyID: ID(1)}); err != nil {
			t.Fatal(err)
		}
	}
	l, err = s.ListAliases(bg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range l {
		got = append(got, a.Name)
		if a.KeyID != ID(1) {
			t.Errorf("alias %s → %s", a.Name, a.KeyID)
		}
	}
	want := []string{"alias/-y", "alias/B", "alias/Z9", "alias/_x", "alias/a", "alias/a/b", "alias/b"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ListAliases order %v, want %v", got, want)
	}
}

// testConcurrentUpdateKey: N goroutines each add 1 to a counter M times
// through UpdateKey; no increment may be lost.
func testConcurrentUpdateKey(t *testing.T, s keystore.Store) {
	const workers, rounds = 16, 8
	mustCreate(t, s, NewKey(ID(1)))
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				_, err := s.UpdateKey(bg, ID(1), func(k *keystore.Key) error {
					k.PendingWindowInDays++
					k.WrappedMaterial = append(k.WrappedMaterial, byte(k.PendingWindowInDays))
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent UpdateKey: %v", err)
	}
	k, err := s.GetKey(bg, ID(1))
	if err != nil {
		t.Fatal(err)
	}
	if k.PendingWindowInDays != workers*rounds || k.Revision != 1+workers*rounds {
		t.Fatalf("after %d concurrent increments: counter %d, revision %d (lost updates)", workers*rounds, k.PendingWindowInDays, k.Revision)
	}
	if len(k.WrappedMaterial) != len(NewKey("").WrappedMaterial)+workers*rounds {
		t.Fatalf("material grew to %d bytes, want %d", len(k.WrappedMaterial), len(NewKey("").WrappedMaterial)+workers*rounds)
	}
	for i, b := range k.WrappedMaterial[len(NewKey("").WrappedMaterial):] {
		if int(b) != i+1 {
			t.Fatalf("update %d saw counter %d: updates interleaved", i+1, b)
		}
	}
}

// testConcurrentCreateAlias: N goroutines create one alias name for
// different keys; exactly one wins, the others get ErrExists.
func testConcurrentCreateAlias(t *testing.T, s keystore.Store) {
	const workers = 16
	for i := range workers {
		mustCreate(t, s, NewKey(ID(i)))
	}
	for round := range 3 {
		name := fmt.Sprintf("alias/race-%d", round)
		var wg sync.WaitGroup
		results := make([]error, workers)
		start := make(chan struct{})
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = s.CreateAlias(bg, keystore.Alias{Name: name, KeyID: ID(i)})
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range results {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("%s: workers %d and %d both created it", name, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, keystore.ErrExists):
				t.Fatalf("%s: worker %d: %v, want nil or ErrExists", name, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("%s: nobody won", name)
		}
		a, err := s.GetAlias(bg, name)
		if err != nil || a.KeyID != ID(winner) {
			t.Fatalf("%s → %s, %v; the winner was %s", name, a.KeyID, err, ID(winner))
		}
	}
	l, _ := s.ListAliases(bg)
	if len(l) != 3 {
		t.Fatalf("%d aliases after 3 races, want 3", len(l))
	}
}

// testConcurrentCreateKey: N goroutines create one key ID; exactly one wins.
func testConcurrentCreateKey(t *testing.T, s keystore.Store) {
	const workers = 16
	var wg sync.WaitGroup
	results := make([]error, workers)
	start := make(chan struct{})
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := NewKey(ID(1))
			k.Description = fmt.Sprint(i)
			<-start
			results[i] = s.CreateKey(bg, k)
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range results {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("workers %d and %d both created the key", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, keystore.ErrExists):
			t.Fatalf("worker %d: %v, want nil or ErrExists", i, err)
		}
	}
	k, err := s.GetKey(bg, ID(1))
	if err != nil || k.Description != fmt.Sprint(winner) || k.Revision != 1 {
		t.Fatalf("stored key %+v, %v; winner %d", k, err, winner)
	}
}

// testDeleteKeyCheck: DeleteKey's check sees the key as stored now (not
// as the caller last read it); when it fails, its error comes back
// unchanged and neither the key nor its aliases go.
func testDeleteKeyCheck(t *testing.T, s keystore.Store) {
	mustCreate(t, s, NewKey(ID(1)))
	if err := s.CreateAlias(bg, keystore.Alias{Name: "alias/kept", KeyID: ID(1), CreatedAt: time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	stale, err := s.GetKey(bg, ID(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateKey(bg, ID(1), func(k *keystore.Key) error { k.Description = "changed"; return nil }); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("no longer due")
	var seen *keystore.Key
	err = s.DeleteKey(bg, ID(1), func(k *keystore.Key) error {
		seen = k
		if k.Revision != stale.Revision {
			return refused
		}
		return nil
	})
	if err != refused {
		t.Fatalf("DeleteKey with a failing check: %v, want the check's error unchanged", err)
	}
	if seen == nil || seen.Description != "changed" || seen.Revision != stale.Revision+1 {
		t.Fatalf("check saw %+v, want the stored revision %d", seen, stale.Revision+1)
	}
	if k, err := s.GetKey(bg, ID(1)); err != nil || k.Description != "changed" {
		t.Fatalf("key after a refused DeleteKey: %+v, %v", k, err)
	}
	if a, err := s.GetAlias(bg, "alias/kept"); err != nil || a.KeyID != ID(1) {
		t.Fatalf("alias after a refused DeleteKey: %+v, %v", a, err)
	}
	if err := s.DeleteKey(bg, ID(1), func(*keystore.Key) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKey(bg, ID(1)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("GetKey after DeleteKey: %v, want ErrNotFound", err)
	}
	if err := s.DeleteKey(bg, ID(1), func(*keystore.Key) error { t.Error("check ran for an absent key"); return nil }); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("DeleteKey of an absent key: %v, want ErrNotFound", err)
	}
}

// testDeleteKey: DeleteKey removes the key and the aliases naming it,
// nothing else, and a deleted ID is free.
func testDeleteKey(t *testing.T, s keystore.Store) {
	mustCreate(t, s, NewKey(ID(1)))
	mustCreate(t, s, NewKey(ID(2)))
	at := time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC)
	for _, a := range []keystore.Alias{{Name: "alias/a", KeyID: ID(1), CreatedAt: at}, {Name: "alias/b", KeyID: ID(1), CreatedAt: at}, {Name: "alias/c", KeyID: ID(2), CreatedAt: at}} {
		if err := s.CreateAlias(bg, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteKey(bg, ID(1), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKey(bg, ID(1)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("GetKey after DeleteKey: %v, want ErrNotFound", err)
	}
	for _, name := range []string{"alias/a", "alias/b"} {
		if _, err := s.GetAlias(bg, name); !errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("GetAlias(%s) of a deleted key: %v, want ErrNotFound", name, err)
		}
	}
	if a, err := s.GetAlias(bg, "alias/c"); err != nil || a.KeyID != ID(2) {
		t.Fatalf("the other key's alias: %+v %v", a, err)
	}
	keys, err := s.ListKeys(bg)
	if err != nil || len(keys) != 1 || keys[0].ID != ID(2) {
		t.Fatalf("ListKeys after DeleteKey: %d keys, %v", len(keys), err)
	}
	if err := s.DeleteKey(bg, ID(1), nil); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("second DeleteKey: %v, want ErrNotFound", err)
	}
	if err := s.CreateAlias(bg, keystore.Alias{Name: "alias/a", KeyID: ID(1), CreatedAt: at}); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("alias to a deleted key: %v, want ErrNotFound", err)
	}
}

func testClosed(t *testing.T, s keystore.Store) {
	mustCreate(t, s, NewKey(ID(1)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.GetKey(bg, ID(1)); !errors.Is(err, keystore.ErrClosed) {
		t.Fatalf("GetKey after Close: %v, want ErrClosed", err)
	}
	if err := s.CreateKey(bg, NewKey(ID(2))); !errors.Is(err, keystore.ErrClosed) {
		t.Fatalf("CreateKey after Close: %v, want ErrClosed", err)
	}
	if _, err := s.UpdateKey(bg, ID(1), func(*keystore.Key) error { return nil }); !errors.Is(err, keystore.ErrClosed) {
		t.Fatalf("UpdateKey after Close: %v, want ErrClosed", err)
	}
	if err := s.CreateAlias(bg, keystore.Alias{Name: "alias/x", KeyID: ID(1)}); !errors.Is(err, keystore.ErrClosed) {
		t.Fatalf("CreateAlias after Close: %v, want ErrClosed", err)
	}
	if _, err := s.ListKeys(bg); !errors.Is(err, keystore.ErrClosed) {
		t.Fatalf("ListKeys after Close: %v, want ErrClosed", err)
	}
	if err := s.DeleteKey(bg, ID(1), nil); !errors.Is(err, keystore.ErrClosed) {
		t.Fatalf("DeleteKey after Close: %v, want ErrClosed", err)
	}
}

// pointAt is an UpdateAlias fn that points the alias at keyID with mac,
// at updated.
func pointAt(keyID string, mac []byte, updated time.Time) func(*keystore.Alias) error {
	return func(a *keystore.Alias) error {
		a.KeyID, a.MAC, a.UpdatedAt = keyID, mac, updated
		a.Seq++
		return nil
	}
}

func testUpdateAlias(t *testing.T, s keystore.Store) {
	mustCreate(t, s, NewKey(ID(1)))
	mustCreate(t, s, NewKey(ID(2)))
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.CreateAlias(bg, keystore.Alias{Name: "alias/a", KeyID: ID(1), CreatedAt: created, MAC: []byte{1}, Seq: 7}); err != nil {
		t.Fatal(err)
	}
	if a, err := s.GetAlias(bg, "alias/a"); err != nil || a.Seq != 7 {
		t.Fatalf("the alias's Seq is not kept: %+v, %v", a, err)
	}
	updated := created.Add(time.Hour)
	var seen keystore.Alias
	if err := s.UpdateAlias(bg, "alias/a", func(a *keystore.Alias) error {
		seen = a.Clone()
		// Name and CreatedAt stay whatever fn does.
		a.Name, a.CreatedAt = "alias/other", updated
		return pointAt(ID(2), []byte{2}, updated)(a)
	}); err != nil {
		t.Fatal(err)
	}
	if seen.Name != "alias/a" || seen.KeyID != ID(1) || !reflect.DeepEqual(seen.MAC, []byte{1}) || seen.Seq != 7 || !seen.CreatedAt.Equal(created) {
		t.Fatalf("UpdateAlias's fn saw %+v, not the stored record", seen)
	}
	a, err := s.GetAlias(bg, "alias/a")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "alias/a" || a.KeyID != ID(2) || !reflect.DeepEqual(a.MAC, []byte{2}) || !a.CreatedAt.Equal(created) || !a.UpdatedAt.Equal(updated) || a.Seq != 8 {
		t.Fatalf("after UpdateAlias: %+v", a)
	}
	if _, err := s.GetAlias(bg, "alias/other"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("UpdateAlias's fn renamed the alias: %v", err)
	}
	list, err := s.ListAliases(bg)
	if err != nil || len(list) != 1 || list[0].KeyID != ID(2) || list[0].Seq != 8 {
		t.Fatalf("ListAliases after UpdateAlias: %+v, %v", list, err)
	}
	if err := s.UpdateAlias(bg, "alias/missing", pointAt(ID(2), nil, updated)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("UpdateAlias of a missing alias: %v, want ErrNotFound", err)
	}
	if err := s.UpdateAlias(bg, "alias/a", pointAt(ID(9), nil, updated)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("UpdateAlias to a missing key: %v, want ErrNotFound", err)
	}
	refused := errors.New("refused by fn")
	if err := s.UpdateAlias(bg, "alias/a", func(a *keystore.Alias) error {
		_ = pointAt(ID(1), []byte{3}, updated)(a)
		return refused
	}); err != refused {
		t.Fatalf("UpdateAlias whose fn failed: %v, want fn's error unchanged", err)
	}
	if a, err := s.GetAlias(bg, "alias/a"); err != nil || a.KeyID != ID(2) || a.Seq != 8 || !reflect.DeepEqual(a.MAC, []byte{2}) {
		t.Fatalf("a failed UpdateAlias changed the alias: %+v, %v", a, err)
	}
	if _, err := s.GetAlias(bg, "alias/missing"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("a failed UpdateAlias created the alias: %v", err)
	}
	// The key it named can be deleted; the alias goes with its new key only.
	if err := s.DeleteKey(bg, ID(1), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAlias(bg, "alias/a"); err != nil {
		t.Fatalf("alias lost with the key it no longer names: %v", err)
	}
}

// testConcurrentUpdateAlias: readers never see the alias absent or naming
// a third key while writers move it back and forth, and every writer's fn
// sees the record the last one wrote (UpdateAlias is conditional).
func testConcurrentUpdateAlias(t *testing.T, s keystore.Store) {
	mustCreate(t, s, NewKey(ID(1)))
	mustCreate(t, s, NewKey(ID(2)))
	if err := s.CreateAlias(bg, keystore.Alias{Name: "alias/moving", KeyID: ID(1)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errc := make(chan error, 8)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if err := s.UpdateAlias(bg, "alias/moving", pointAt(ID(1+(i+w)%2), nil, time.Now())); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var rg sync.WaitGroup
	rg.Add(1)
	go func() {
		defer rg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			a, err := s.GetAlias(bg, "alias/moving")
			if err != nil || (a.KeyID != ID(1) && a.KeyID != ID(2)) {
				errc <- fmt.Errorf("reader saw %+v, %v", a, err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	rg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	// Each fn saw the record the one before it wrote: none was lost.
	if a, err := s.GetAlias(bg, "alias/moving"); err != nil || a.Seq != 40 {
		t.Fatalf("after 40 updates that each raise Seq: %+v, %v", a, err)
	}
}

// testConcurrentRotations: rotations made at once (each retires the
// current material and installs a new one in one UpdateKey, as the server
// does) lose no material: every material ever made current is either the
// current one or retired, once.
func testConcurrentRotations(t *testing.T, s keystore.Store) {
	k := NewKey(ID(1))
	k.MaterialID, k.RetiredMaterials, k.Rotations = "m-initial", nil, nil
	mustCreate(t, s, k)
	const workers, each = 4, 5
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				mid := fmt.Sprintf("m-%d-%d", w, i)
				if _, err := s.UpdateKey(bg, ID(1), func(k *keystore.Key) error {
					k.RetiredMaterials = append(k.RetiredMaterials, keystore.RetiredMaterial{MaterialID: k.MaterialID, WrappedMaterial: []byte(k.MaterialID)})
					k.MaterialID = mid
					k.Rotations = append(k.Rotations, keystore.Rotation{MaterialID: mid, Date: time.Now().UTC(), Type: "ON_DEMAND"})
					return nil
				}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	got, err := s.GetKey(bg, ID(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.RetiredMaterials) != workers*each || len(got.Rotations) != workers*each {
		t.Fatalf("%d retired materials, %d rotations, want %d each", len(got.RetiredMaterials), len(got.Rotations), workers*each)
	}
	seen := map[string]bool{got.MaterialID: true}
	for _, r := range got.RetiredMaterials {
		if seen[r.MaterialID] || string(r.WrappedMaterial) != r.MaterialID {
			t.Fatalf("material %q retired twice or with another's bytes", r.MaterialID)
		}
		seen[r.MaterialID] = true
	}
	if !seen["m-initial"] || len(seen) != workers*each+1 {
		t.Fatalf("materials lost: %d distinct", len(seen))
	}
}

// testKeyRecordTooLarge: a key record over keystore.MaxKeyRecordBytes once
// encoded (here a description of '<', which JSON writes as \u003c) is
// refused with a *keystore.TooLargeError matching keystore.ErrTooLarge,
// and nothing is stored: neither the new key nor the change of an old one.
func testKeyRecordTooLarge(t *testing.T, s keystore.Store) {
	huge := strings.Repeat("<", keystore.MaxKeyRecordBytes/6+1)
	tooLarge := func(op string, err error) {
		t.Helper()
		var te *keystore.TooLargeError
		if !errors.Is(err, keystore.ErrTooLarge) || !errors.As(err, &te) || te.Limit != keystore.MaxKeyRecordBytes || te.Size <= te.Limit {
			t.Fatalf("%s of a record over the bound: %v, want a *keystore.TooLargeError", op, err)
		}
	}
	k := NewKey(ID(1))
	k.Description = huge
	tooLarge("CreateKey", s.CreateKey(bg, k))
	if _, err := s.GetKey(bg, ID(1)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("GetKey after a refused CreateKey: %v, want ErrNotFound", err)
	}
	want := NewKey(ID(1))
	mustCreate(t, s, want)
	_, err := s.UpdateKey(bg, ID(1), func(k *keystore.Key) error { k.Description = huge; return nil })
	tooLarge("UpdateKey", err)
	got, err := s.GetKey(bg, ID(1))
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 1 {
		t.Fatalf("revision %d after a refused UpdateKey, want 1", got.Revision)
	}
	got.Revision = 0
	sameKey(t, got, want)
}
