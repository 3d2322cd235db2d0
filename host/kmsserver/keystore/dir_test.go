// SPDX-License-Identifier: Apache-2.0

package keystore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const id1 = "0b9d2f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
const id2 = "1b9d2f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"

func newKey(id string) *Key {
	return &Key{ID: id, CreatedAt: time.Unix(1700000000, 0).UTC(), KeySpec: "SYMMETRIC_DEFAULT",
		KeyUsage: "ENCRYPT_DECRYPT", State: StateEnabled, Policy: "{}", WrappedMaterial: []byte{1, 2, 3}}
}

func TestDirRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CreateKey(ctx, newKey(id2)); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateKey(ctx, newKey(id1)); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateKey(ctx, newKey(id1)); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate CreateKey: %v, want ErrExists", err)
	}
	if _, err := d.GetKey(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetKey missing: %v", err)
	}
	sentinel := errors.New("abort")
	if _, err := d.UpdateKey(ctx, id1, func(k *Key) error { k.State = StateDisabled; return sentinel }); err != sentinel {
		t.Fatalf("UpdateKey abort: %v", err)
	}
	k, err := d.UpdateKey(ctx, id1, func(k *Key) error { k.State = StateDisabled; return nil })
	if err != nil || k.State != StateDisabled || k.Revision != 2 {
		t.Fatalf("UpdateKey: %+v %v", k, err)
	}
	if err := d.CreateAlias(ctx, Alias{Name: "alias/a", KeyID: id1}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateAlias(ctx, Alias{Name: "alias/a", KeyID: id2}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate alias: %v", err)
	}
	if err := d.CreateAlias(ctx, Alias{Name: "alias/b", KeyID: "missing"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("alias to missing key: %v", err)
	}
	if err := d.CreateAlias(ctx, Alias{Name: "alias/c", KeyID: id2}); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteAlias(ctx, "alias/c"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteAlias(ctx, "alias/c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete missing alias: %v", err)
	}

	// A second opener is refused while the first holds the lock.
	if _, err := OpenDir(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second OpenDir: %v, want ErrLocked", err)
	}
	d.Close()
	if _, err := d.GetKey(ctx, id1); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}

	// Leftover temporary file from an interrupted write is ignored and removed.
	tmp := filepath.Join(dir, "keys", ".tmp-"+id1+".json-123")
	os.WriteFile(tmp, []byte("{garbage"), 0o600)

	d2, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file not removed: %v", err)
	}
	keys, _ := d2.ListKeys(ctx)
	if len(keys) != 2 || keys[0].ID != id1 || keys[1].ID != id2 || keys[0].State != StateDisabled {
		t.Fatalf("reloaded keys: %+v", keys)
	}
	as, _ := d2.ListAliases(ctx)
	if len(as) != 1 || as[0].Name != "alias/a" || as[0].KeyID != id1 {
		t.Fatalf("reloaded aliases: %+v", as)
	}
	fi, _ := os.Stat(filepath.Join(dir, "keys", id1+".json"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestDirCorrupt(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	os.WriteFile(filepath.Join(dir, "keys", id1+".json"), []byte("{not json"), 0o600)
	if _, err := OpenDir(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("OpenDir: %v, want ErrCorrupt", err)
	}
	// The lock was released on failure.
	os.Remove(filepath.Join(dir, "keys", id1+".json"))
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
}

// TestDirCorruptAliases: an alias table that does not say which key each
// alias names is refused at OpenDir with an error naming aliases.json: a
// table of null (every alias gone), an alias without a name, an alias listed
// twice (which key it names would depend on the order).
func TestDirCorruptAliases(t *testing.T) {
	for _, tc := range []struct{ table, want string }{
		{"null", "not a list of aliases"},
		{"[null]", "alias 0 has no name"},
		{`[{"name":"alias/a","key_id":"` + id1 + `"},{}]`, "alias 1 has no name"},
		{`[{"name":"","key_id":"` + id1 + `"}]`, "alias 0 has no name"},
		{`[{"name":"alias/a","key_id":"` + id1 + `"},{"name":"alias/a","key_id":"` + id2 + `"}]`, `alias "alias/a" listed twice`},
	} {
		dir := t.TempDir()
		d, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.CreateKey(context.Background(), newKey(id1)); err != nil {
			t.Fatal(err)
		}
		d.Close()
		p := filepath.Join(dir, "aliases.json")
		os.WriteFile(p, []byte(tc.table), 0o600)
		_, err = OpenDir(dir)
		var ce *CorruptError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Path != p || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: OpenDir: %v; want a *CorruptError for %s saying %q", tc.table, err, p, tc.want)
		}
	}
}

// TestDirRecordTruncated: every proper prefix of a record the store wrote
// (a torn write, a truncated file) is refused, naming the file.
func TestDirRecordTruncated(t *testing.T) {
	keyFiles, aliasFiles := storedRecords(t)
	const path = "/store/record.json"
	for _, b := range keyFiles {
		for n := range len(b) {
			if _, err := decodeKey(path, id1, b[:n]); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("key record cut at %d of %d: %v", n, len(b), err)
			}
		}
	}
	for _, b := range aliasFiles {
		for n := range len(b) {
			if _, err := decodeAliases(path, b[:n]); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("alias table cut at %d of %d: %v", n, len(b), err)
			}
		}
	}
}
