// SPDX-License-Identifier: Apache-2.0

package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/enclavekit/enclavekit/internal/atomicfile"
	"github.com/enclavekit/enclavekit/internal/boundedfile"
)

// Bounds on the records read back, so a stray huge file or a named pipe in
// the store fails OpenDir at once instead of exhausting memory. They are
// far above what the store writes: a key record holds at most a 32 KiB
// policy, 100 grants (maxGrantsPerKey in kmsserver, each constraint of at
// most 384 characters), 50 tags, its retired materials and one wrapped
// private key (ML-DSA-87 or RSA-4096: under 10 KiB in base64), under a
// MiB even with every character escaped, and no write makes one over
// MaxKeyRecordBytes; aliases.json holds every alias, a few hundred bytes
// each, and no write makes it over maxAliasWrite (some 40,000 aliases).
//
// A record over its read bound (written by hand, or by a version without
// the write bounds) fails OpenDir, for every key, naming the file: the
// store does not set it aside and open without it, because the key would
// then be silently gone (NotFound for its ciphertexts, its aliases left
// dangling, its deletion date never acted on) on a server that looks
// healthy. The operator decides: move the file away, or restore it.
const (
	maxKeyRecord   = 16 * boundedfile.MiB
	maxAliasRecord = 64 * boundedfile.MiB
	// maxAliasWrite bounds aliases.json as written, well under
	// maxAliasRecord (MaxKeyRecordBytes does so for key records).
	maxAliasWrite = 16 << 20
)

// keyIDPattern bounds what may become a file name.
var keyIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Dir is the directory backend of [Store]. Create it with [OpenDir].
type Dir struct {
	dir  string
	lock *os.File

	mu      sync.RWMutex
	closed  bool
	keys    map[string]*Key
	aliases map[string]Alias
	// sizes are the sizes of the key records as last read or written,
	// aliasesSize that of aliases.json: a record over its write bound may
	// be replaced by one no larger (writeKey, writeAliases).
	sizes       map[string]int
	aliasesSize int
}

var _ Store = (*Dir)(nil)

// OpenDir opens (creating it when missing, mode 0700) the key store in dir
// and takes its lock. It fails with an error matching [ErrLocked] when
// another process holds the directory, and with [ErrCorrupt] when a record
// cannot be decoded. Leftover temporary files of an interrupted write are
// removed.
func OpenDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if err := lockFile(lf); err != nil {
		lf.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &LockedError{Dir: dir}
		}
		return nil, fmt.Errorf("keystore: lock %s: %w", dir, err)
	}
	d := &Dir{dir: dir, lock: lf, keys: map[string]*Key{}, aliases: map[string]Alias{}, sizes: map[string]int{}}
	if err := d.load(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Dir) load() error {
	kdir := filepath.Join(d.dir, "keys")
	ents, err := os.ReadDir(kdir)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".tmp-") {
			os.Remove(filepath.Join(kdir, name))
			continue
		}
		id, ok := strings.CutSuffix(name, ".json")
		if !ok || !keyIDPattern.MatchString(id) {
			continue
		}
		p := filepath.Join(kdir, name)
		b, err := boundedfile.Read(p, maxKeyRecord)
		if err != nil {
			return fmt.Errorf("keystore: %w", err)
		}
		k, err := decodeKey(p, id, b)
		if err != nil {
			return err
		}
		d.keys[id] = k
		d.sizes[id] = len(b)
	}
	if ents, err := os.ReadDir(d.dir); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				os.Remove(filepath.Join(d.dir, e.Name()))
			}
		}
	}
	p := filepath.Join(d.dir, "aliases.json")
	b, err := boundedfile.Read(p, maxAliasRecord)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("keystore: %w", err)
	default:
		list, err := decodeAliases(p, b)
		if err != nil {
			return err
		}
		for _, a := range list {
			d.aliases[a.Name] = a
		}
		d.aliasesSize = len(b)
	}
	return nil
}

// decodeKey decodes the record of key id read from the file at path; a
// record that does not decode, or names another key, is a *CorruptError
// naming path.
func decodeKey(path, id string, b []byte) (*Key, error) {
	var k Key
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	if k.ID != id {
		return nil, &CorruptError{Path: path, Err: fmt.Errorf("key ID %q does not match the file name", k.ID)}
	}
	return &k, nil
}

// decodeAliases decodes the alias table read from the file at path
// (aliases.json). A table that does not decode, is not a list (the store
// writes [] when it is empty), or has an alias without a name or listed
// twice is a *CorruptError naming path: loading it would drop aliases, or
// pick the key of an alias listed twice by the order of the list.
func decodeAliases(path string, b []byte) ([]Alias, error) {
	var list []Alias
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	if list == nil {
		return nil, &CorruptError{Path: path, Err: errors.New("not a list of aliases")}
	}
	seen := make(map[string]bool, len(list))
	for i, a := range list {
		if a.Name == "" {
			return nil, &CorruptError{Path: path, Err: fmt.Errorf("alias %d has no name", i)}
		}
		if seen[a.Name] {
			return nil, &CorruptError{Path: path, Err: fmt.Errorf("alias %q listed twice", a.Name)}
		}
		seen[a.Name] = true
	}
	return list, nil
}

// Close releases the lock. Further calls fail with [ErrClosed].
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.lock.Close() // closing the descriptor releases the flock
}

func (d *Dir) keyPath(id string) string { return filepath.Join(d.dir, "keys", id+".json") }

// CreateKey implements [Store].
func (d *Dir) CreateKey(_ context.Context, k *Key) error {
	if !keyIDPattern.MatchString(k.ID) {
		return fmt.Errorf("keystore: invalid key ID %q", k.ID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if _, ok := d.keys[k.ID]; ok {
		return ErrExists
	}
	c := k.Clone()
	c.Revision = 1
	if err := d.writeKey(c); err != nil {
		return err
	}
	d.keys[c.ID] = c
	return nil
}

// GetKey implements [Store].
func (d *Dir) GetKey(_ context.Context, id string) (*Key, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	k, ok := d.keys[id]
	if !ok {
		return nil, ErrNotFound
	}
	return k.Clone(), nil
}

// UpdateKey implements [Store].
func (d *Dir) UpdateKey(_ context.Context, id string, fn func(*Key) error) (*Key, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	cur, ok := d.keys[id]
	if !ok {
		return nil, ErrNotFound
	}
	c := cur.Clone()
	if err := fn(c); err != nil {
		return nil, err
	}
	c.ID = id
	c.Revision = cur.Revision + 1
	if err := d.writeKey(c); err != nil {
		return nil, err
	}
	d.keys[id] = c
	return c.Clone(), nil
}

// ListKeys implements [Store].
func (d *Dir) ListKeys(context.Context) ([]*Key, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	out := make([]*Key, 0, len(d.keys))
	for _, k := range d.keys {
		out = append(out, k.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteKey implements [Store]: check runs under the store's lock, then
// the aliases naming the key go (one write of aliases.json), then the
// key's file, then the directory is fsynced. After a crash in between, the
// key is still there without its aliases, and deleting it again completes
// the job.
func (d *Dir) DeleteKey(_ context.Context, id string, check func(*Key) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	cur, ok := d.keys[id]
	if !ok {
		return ErrNotFound
	}
	if check != nil {
		if err := check(cur.Clone()); err != nil {
			return err
		}
	}
	var removed []Alias
	for name, a := range d.aliases {
		if a.KeyID == id {
			removed = append(removed, a)
			delete(d.aliases, name)
		}
	}
	if len(removed) > 0 {
		if err := d.writeAliases(); err != nil {
			for _, a := range removed {
				d.aliases[a.Name] = a
			}
			return err
		}
	}
	if err := os.Remove(d.keyPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("keystore: %w", err)
	}
	delete(d.keys, id)
	delete(d.sizes, id)
	return syncDir(filepath.Join(d.dir, "keys"))
}

func syncDir(dir string) error {
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// CreateAlias implements [Store].
func (d *Dir) CreateAlias(_ context.Context, a Alias) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if _, ok := d.aliases[a.Name]; ok {
		return ErrExists
	}
	if _, ok := d.keys[a.KeyID]; !ok {
		return ErrNotFound
	}
	d.aliases[a.Name] = a
	if err := d.writeAliases(); err != nil {
		delete(d.aliases, a.Name)
		return err
	}
	return nil
}

// GetAlias implements [Store].
func (d *Dir) GetAlias(_ context.Context, name string) (Alias, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return Alias{}, ErrClosed
	}
	a, ok := d.aliases[name]
	if !ok {
		return Alias{}, ErrNotFound
	}
	return a, nil
}

// UpdateAlias implements [Store]: fn runs under the store's lock, and
// aliases.json is replaced in one atomic rename, so after a crash it
// names either the old or the new key.
func (d *Dir) UpdateAlias(_ context.Context, name string, fn func(*Alias) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	cur, ok := d.aliases[name]
	if !ok {
		return ErrNotFound
	}
	a := cur.Clone()
	if err := fn(&a); err != nil {
		return err
	}
	a.Name, a.CreatedAt = cur.Name, cur.CreatedAt
	if _, ok := d.keys[a.KeyID]; !ok {
		return ErrNotFound
	}
	d.aliases[name] = a
	if err := d.writeAliases(); err != nil {
		d.aliases[name] = cur
		return err
	}
	return nil
}

// DeleteAlias implements [Store].
func (d *Dir) DeleteAlias(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	a, ok := d.aliases[name]
	if !ok {
		return ErrNotFound
	}
	delete(d.aliases, name)
	if err := d.writeAliases(); err != nil {
		d.aliases[name] = a
		return err
	}
	return nil
}

// ListAliases implements [Store].
func (d *Dir) ListAliases(context.Context) ([]Alias, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	return d.sortedAliases(), nil
}

func (d *Dir) sortedAliases() []Alias {
	out := make([]Alias, 0, len(d.aliases))
	for _, a := range d.aliases {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// writeKey writes k's record, unless it would be over MaxKeyRecordBytes
// and larger than the record it replaces: a *TooLargeError then, and
// nothing written.
func (d *Dir) writeKey(k *Key) error {
	b, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err := CheckKeyRecordSize(k.ID, len(b), d.sizes[k.ID]); err != nil {
		return err
	}
	if err := writeFileAtomic(d.keyPath(k.ID), b, 0o600); err != nil {
		return err
	}
	d.sizes[k.ID] = len(b)
	return nil
}

// writeAliases writes aliases.json from d.aliases, unless it would be over
// maxAliasWrite and larger than the table it replaces (so deleting
// aliases from a table over the bound still works): a *TooLargeError
// then, and nothing written.
func (d *Dir) writeAliases() error {
	b, err := json.Marshal(d.sortedAliases())
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if len(b) > maxAliasWrite && len(b) > d.aliasesSize {
		return &TooLargeError{Record: "aliases.json", Size: len(b), Limit: maxAliasWrite}
	}
	if err := writeFileAtomic(filepath.Join(d.dir, "aliases.json"), b, 0o600); err != nil {
		return err
	}
	d.aliasesSize = len(b)
	return nil
}

// writeFileAtomic is [atomicfile.Write] with the package's prefix.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Write(path, data, perm); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}
