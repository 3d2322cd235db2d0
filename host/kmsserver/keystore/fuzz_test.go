// SPDX-License-Identifier: Apache-2.0

package keystore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// storedRecords makes a directory store with a plain key, a key using every
// field, and aliases, and returns the files the store wrote: the two key
// records and aliases.json.
func storedRecords(tb testing.TB) (keyFiles [][]byte, aliasFiles [][]byte) {
	ctx := context.Background()
	dir := tb.TempDir()
	d, err := OpenDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	at := time.Unix(1700000000, 0).UTC()
	full := newKey(id2)
	full.Description = "every field \u00e9 \u2028 <>&"
	full.DeletionDate = at.Add(7 * 24 * time.Hour)
	full.State, full.PendingWindowInDays = StatePendingDeletion, 7
	full.Tags = []Tag{{Key: "Project", Value: "Alpha"}, {Key: "", Value: ""}}
	full.MaterialID = strings.Repeat("ab", 32)
	full.RetiredMaterials = []RetiredMaterial{{MaterialID: "", WrappedMaterial: []byte{9}}, {MaterialID: strings.Repeat("cd", 32), WrappedMaterial: nil}}
	full.Rotations = []Rotation{{MaterialID: strings.Repeat("ab", 32), Date: at, Type: "ON_DEMAND"}}
	full.RotationEnabled, full.RotationPeriodInDays, full.NextRotationDate = true, 365, at.Add(365*24*time.Hour)
	full.Grants = []Grant{{ID: strings.Repeat("0f", 32), Name: "g", CreatedAt: at, GranteePrincipal: "arn:aws:iam::111122223333:role/r",
		IssuingAccount: "111122223333", Operations: []string{"Decrypt"}, EncryptionContextEquals: map[string]string{"a": "b"}}}
	full.Origin, full.ValidTo = OriginExternal, at.Add(time.Hour)
	full.LastUsage = KeyUsage{Operation: "Decrypt", Time: at.In(time.FixedZone("", 3600)), RequestID: "r-1"}
	full.UsageTrackingStart = at
	for _, k := range []*Key{newKey(id1), full} {
		if err := d.CreateKey(ctx, k); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := d.UpdateKey(ctx, id1, func(k *Key) error { k.State = StateDisabled; return nil }); err != nil {
		tb.Fatal(err)
	}
	readAliases := func() {
		b, err := os.ReadFile(filepath.Join(dir, "aliases.json"))
		if err != nil {
			tb.Fatal(err)
		}
		aliasFiles = append(aliasFiles, b)
	}
	for _, a := range []Alias{{Name: "alias/a", KeyID: id1, CreatedAt: at}, {Name: "alias/b", KeyID: id2, CreatedAt: at, MAC: []byte{1, 2, 3}}} {
		if err := d.CreateAlias(ctx, a); err != nil {
			tb.Fatal(err)
		}
	}
	if err := d.UpdateAlias(ctx, "alias/a", func(a *Alias) error {
		a.KeyID, a.MAC, a.UpdatedAt, a.Seq = id2, []byte{4}, at.Add(time.Minute), a.Seq+1
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	readAliases()
	for _, id := range []string{id1, id2} {
		b, err := os.ReadFile(d.keyPath(id))
		if err != nil {
			tb.Fatal(err)
		}
		keyFiles = append(keyFiles, b)
	}
	if err := d.DeleteKey(ctx, id2, nil); err != nil {
		tb.Fatal(err)
	}
	if err := d.DeleteAlias(ctx, "alias/b"); !errors.Is(err, ErrNotFound) {
		tb.Fatalf("DeleteKey left alias/b: %v", err)
	}
	readAliases() // DeleteKey took both aliases: []
	return keyFiles, aliasFiles
}

// checkCorrupt fails unless err is a *CorruptError naming path, matching
// ErrCorrupt.
func checkCorrupt(t *testing.T, err error, path string) {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != path || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %T %v: want a *CorruptError naming %s", err, err, path)
	}
}

// FuzzDirRecord: no key record or alias table panics the directory
// backend's decoders; one that does not decode is a *CorruptError naming
// the file; one that does names the file's key, lists each alias once, and
// encodes back to a record that decodes to the same.
func FuzzDirRecord(f *testing.F) {
	keyFiles, aliasFiles := storedRecords(f)
	if len(keyFiles) != 2 || len(aliasFiles) != 2 {
		f.Fatalf("%d key records and %d alias tables", len(keyFiles), len(aliasFiles))
	}
	// The target decodes every input as id1's record: the full record,
	// written for id2, is given under id1's name too.
	keyFiles = append(keyFiles, bytes.Replace(keyFiles[1], []byte(id2), []byte(id1), 1))
	for _, b := range append(keyFiles, aliasFiles...) {
		f.Add(b)
		f.Add(b[:len(b)/2]) // a torn write
	}
	for _, s := range []string{"", "null", "[null]", "{}", "[]", "[{}]", "0", "\"\"",
		`{"id":"` + id1 + `","wrapped_material":"!!"}`,
		`{"id":"` + id1 + `","created_at":"2023-13-45T00:00:00Z"}`,
		`{"id":"` + id1 + `","revision":1e400}`,
		`{"id":"` + id1 + `"} trailing`,
		`{"id":"` + id1 + `","ID":"` + id2 + `"}`,
		`{"id":"` + id2 + `","id":"` + id1 + `"}`,
		`[{"name":"alias/a","key_id":"` + id1 + `"},{"name":"alias/a","key_id":"` + id2 + `"}]`,
		`[{"name":"","key_id":"` + id1 + `"}]`,
		`[{"name":"alias/a","key_id":"` + id1 + `","mac":null}]`,
	} {
		f.Add([]byte(s))
	}
	const keyPath, aliasPath = "/store/keys/" + id1 + ".json", "/store/aliases.json"
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := decodeKey(keyPath, id1, data)
		if err != nil {
			if k != nil {
				t.Fatal("a key beside an error")
			}
			checkCorrupt(t, err, keyPath)
		} else {
			if k == nil || k.ID != id1 {
				t.Fatalf("accepted a record of key %+v from %s", k, keyPath)
			}
			b, err := json.Marshal(k)
			if err != nil {
				t.Fatal(err)
			}
			again, err := decodeKey(keyPath, id1, b)
			if err != nil {
				t.Fatalf("the re-encoded record does not decode: %v", err)
			}
			if b2, _ := json.Marshal(again); !bytes.Equal(b, b2) {
				t.Fatalf("re-decoded record differs:\n%s\n%s", b, b2)
			}
		}

		list, err := decodeAliases(aliasPath, data)
		if err != nil {
			if list != nil {
				t.Fatal("aliases beside an error")
			}
			checkCorrupt(t, err, aliasPath)
			return
		}
		if list == nil {
			t.Fatalf("accepted %q as an alias table with no list", data)
		}
		seen := map[string]bool{}
		for _, a := range list {
			if a.Name == "" || seen[a.Name] {
				t.Fatalf("accepted alias %q (empty or listed twice) from %q", a.Name, data)
			}
			seen[a.Name] = true
		}
		b, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeAliases(aliasPath, b)
		if err != nil {
			t.Fatalf("the re-encoded table does not decode: %v", err)
		}
		if b2, _ := json.Marshal(again); !bytes.Equal(b, b2) {
			t.Fatalf("re-decoded table differs:\n%s\n%s", b, b2)
		}
	})
}
