// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Rollback detection: every sealed write of a key record carries a
// sequence number one above the record it replaces (keystore.Key.Seq,
// bound under the root key: keymaterial.Binding.Seq). Each replica keeps,
// in memory, the highest sequence number it has verified or written for
// each key, and a tombstone for each key it saw destroyed or vanish; a
// record of a lower sequence number (an old record put back in the store),
// or any record of a tombstoned key, is refused. See the package
// documentation (Rollback) for what this does not detect.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/enclavekit/enclavekit/host/kmsserver/keymaterial"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// tombstone is the mark of a key destroyed or seen to vanish: no record
// of it is accepted again (key IDs are never reused).
const tombstone = math.MaxUint64

// seqMarks is the highest sequence number verified per key ID, one entry
// per key this replica has verified a record of since it started (the
// destroyed ones included, as tombstones).
type seqMarks struct {
	m sync.Map // key ID → *atomic.Uint64
}

// RollbackError is a key record older than one this replica has already
// verified (Seen), or a record of a key it saw destroyed (Seen is
// math.MaxUint64): a record put back in the store after a newer one
// replaced it or the key was destroyed. Requests on the key fail with
// KMSInternalException.
type RollbackError struct {
	KeyID     string
	Seq, Seen uint64
}

// Error names the key and both sequence numbers.
func (e *RollbackError) Error() string {
	if e.Seen == tombstone {
		return fmt.Sprintf("kmsserver: rollback detected: key %s was destroyed or removed from the store, and a record of it (sequence %d) is back", e.KeyID, e.Seq)
	}
	return fmt.Sprintf("kmsserver: rollback detected: key %s's record has sequence %d, older than sequence %d this replica has verified", e.KeyID, e.Seq, e.Seen)
}

// get is id's mark: 0 when it has none.
func (ms *seqMarks) get(id string) uint64 {
	if v, ok := ms.m.Load(id); ok {
		return v.(*atomic.Uint64).Load()
	}
	return 0
}

// check is checkFrom with id's mark as it is now: for a record read as
// the latest under the store's lock (inside Store.UpdateKey or DeleteKey),
// which no committed write can be newer than.
func (ms *seqMarks) check(id string, seq uint64) error {
	return ms.checkFrom(id, seq, ms.get(id))
}

// checkFrom returns a *RollbackError when seq is below floor, id's mark
// taken before the record was read (or floor is a tombstone), and
// otherwise raises id's mark to seq. A record read outside the store's
// lock may be overtaken, while in flight, by a newer one that raises the
// mark (a write through this replica, or a read of it by another
// request): it is accepted (the write and the read were concurrent), and
// the mark stays. A record older than the floor was replaced before the
// read began: put back since.
func (ms *seqMarks) checkFrom(id string, seq, floor uint64) error {
	if floor == tombstone || seq < floor {
		return &RollbackError{KeyID: id, Seq: seq, Seen: floor}
	}
	v, ok := ms.m.Load(id)
	if !ok {
		v, _ = ms.m.LoadOrStore(id, new(atomic.Uint64))
	}
	mark := v.(*atomic.Uint64)
	for {
		cur := mark.Load()
		if cur == tombstone || seq <= cur || mark.CompareAndSwap(cur, seq) {
			return nil
		}
	}
}

// raise is check for a record this replica wrote (committed): its mark
// becomes at least seq.
func (ms *seqMarks) raise(id string, seq uint64) {
	_ = ms.check(id, seq)
}

// snapshot is every mark as it is now.
func (ms *seqMarks) snapshot() map[string]uint64 {
	out := map[string]uint64{}
	ms.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// bury tombstones id: the key was destroyed (or vanished after being
// seen).
func (ms *seqMarks) bury(id string) {
	v, _ := ms.m.LoadOrStore(id, new(atomic.Uint64))
	v.(*atomic.Uint64).Store(tombstone)
}

// seen reports whether id has a mark (a record of it was verified).
func (ms *seqMarks) seen(id string) bool {
	_, ok := ms.m.Load(id)
	return ok
}

// rollback logs and counts a detected rollback; err is returned.
func (s *Server) rollback(err *RollbackError) error {
	s.cfg.Logger.Error("rollback detected: a key record older than one this replica has verified is in the store; refusing it",
		"key", s.keyARN(err.KeyID), "record_seq", err.Seq, "seen_seq", err.Seen, "tombstone", err.Seen == tombstone)
	s.metrics.rollbacks.Inc()
	return err
}

// checkSeq checks the sequence number seq of a verified record of key id,
// read under the store's lock, against the highest this replica has seen.
func (s *Server) checkSeq(id string, seq uint64) error {
	return s.checkSeqFrom(id, seq, s.marks.get(id))
}

// checkSeqFrom checks the sequence number seq of a verified record of key
// id against floor, id's mark taken before the record was read
// (seqMarks.checkFrom).
func (s *Server) checkSeqFrom(id string, seq, floor uint64) error {
	var rb *RollbackError
	if err := s.marks.checkFrom(id, seq, floor); errors.As(err, &rb) {
		return s.rollback(rb)
	}
	return nil
}

// openRecord verifies k under the root key and against the marks, and
// returns its material and what the seal vouches for. A record wrapped
// before the sequence number was bound counts as sequence 0 (k.Seq is set
// so, for the next seal).
func (s *Server) openRecord(k *keystore.Key) ([]byte, keymaterial.Vouched, error) {
	raw, v, err := s.root.Open(binding(k), k.WrappedMaterial)
	if err != nil {
		return nil, v, err
	}
	if !v.Seq {
		k.Seq = 0
	}
	if err := s.checkSeq(k.ID, k.Seq); err != nil {
		return nil, v, err
	}
	return raw, v, nil
}

// seal wraps raw for k's record with the next sequence number: k.Seq must
// be the verified record's (openRecord).
func (s *Server) seal(k *keystore.Key, raw []byte) error {
	k.Seq++
	w, err := s.root.Wrap(s.rand, binding(k), raw)
	if err != nil {
		return err
	}
	k.WrappedMaterial = w
	return nil
}

// updateSealed is Store.UpdateKey for an fn that verifies the record
// (openRecord) and seals it again (seal): once the write commits, this
// replica refuses any record older than it.
func (s *Server) updateSealed(ctx context.Context, id string, fn func(k *keystore.Key) error) (*keystore.Key, error) {
	var sealed uint64
	k, err := s.store.UpdateKey(ctx, id, func(k *keystore.Key) error {
		if err := fn(k); err != nil {
			return err
		}
		sealed = k.Seq
		return nil
	})
	if err == nil {
		s.marks.raise(id, sealed)
	}
	return k, err
}
