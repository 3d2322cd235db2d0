// SPDX-License-Identifier: Apache-2.0

package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDirRefusesRecordItCannotReadBack (attack): a key record or an alias
// table the directory store would write over its write bound is refused
// with a *TooLargeError, and the store reopens with the record as it was.
// Before, the write succeeded and the next OpenDir failed on the record
// over the read bound, for every key.
func TestDirRefusesRecordItCannotReadBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CreateKey(ctx, newKey(id1)); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateAlias(ctx, Alias{Name: "alias/a", KeyID: id1}); err != nil {
		t.Fatal(err)
	}
	// 3 Mi of '<', 18 MiB once encoded: over the 16 MiB read bound too.
	huge := strings.Repeat("<", 3<<20)
	_, err = d.UpdateKey(ctx, id1, func(k *Key) error { k.Description = huge; return nil })
	var te *TooLargeError
	if !errors.As(err, &te) || !errors.Is(err, ErrTooLarge) || te.Record != "key "+id1 || te.Limit != MaxKeyRecordBytes {
		t.Fatalf("UpdateKey: %v, want a *TooLargeError for key %s", err, id1)
	}
	big := newKey(id2)
	big.Description = huge
	if err := d.CreateKey(ctx, big); !errors.As(err, &te) || te.Record != "key "+id2 {
		t.Fatalf("CreateKey: %v, want a *TooLargeError for key %s", err, id2)
	}
	if _, err := os.Stat(d.keyPath(id2)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused key written: %v", err)
	}
	if err := d.CreateAlias(ctx, Alias{Name: "alias/" + huge, KeyID: id1}); !errors.As(err, &te) || te.Record != "aliases.json" || te.Limit != maxAliasWrite {
		t.Fatalf("CreateAlias: %v, want a *TooLargeError for aliases.json", err)
	}
	if _, err := d.GetAlias(ctx, "alias/"+huge); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused alias kept in memory: %v", err)
	}
	d.Close()
	d, err = OpenDir(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer d.Close()
	k, err := d.GetKey(ctx, id1)
	if err != nil || k.Description != newKey(id1).Description || k.Revision != 1 {
		t.Fatalf("key after reopen: %v, revision %d", err, k.Revision)
	}
	if as, _ := d.ListAliases(ctx); len(as) != 1 {
		t.Fatalf("%d aliases after reopen, want 1", len(as))
	}
}

// TestDirShrinksRecordOverWriteBound: a key record over the write bound
// but under the read bound (written by an earlier version, which had no
// write bound) still opens, and may be changed as long as the change does
// not grow it (so its grants can be revoked), but not grown.
func TestDirShrinksRecordOverWriteBound(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	k := newKey(id1)
	k.Description = strings.Repeat("<", (MaxKeyRecordBytes+MaxKeyRecordBytes/2)/6) // 6 MiB encoded
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) <= MaxKeyRecordBytes || int64(len(b)) >= maxKeyRecord {
		t.Fatalf("record of %d bytes, want between the bounds", len(b))
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", id1+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.UpdateKey(ctx, id1, func(k *Key) error { k.Description += "<"; return nil }); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("growing a record over the write bound: %v, want ErrTooLarge", err)
	}
	if _, err := d.UpdateKey(ctx, id1, func(*Key) error { return nil }); err != nil {
		t.Fatalf("an update that does not grow the record: %v", err)
	}
	if _, err := d.UpdateKey(ctx, id1, func(k *Key) error { k.Description = k.Description[1:]; return nil }); err != nil {
		t.Fatalf("shrinking the record: %v", err)
	}
}
