// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Rollback detection for alias records, as rollback.go does for key
// records. An alias record's MAC (keymaterial's AliasRecordMAC) binds its
// name, its key ID, when the alias was created and the record's sequence
// number since: 1 at CreateAlias, one more at every UpdateAlias. Alias
// names are reused (DeleteAlias, then CreateAlias), so a record is placed
// by the pair (creation time, sequence number): a later creation is a
// later alias, whatever its sequence number. Each replica keeps, in
// memory, the latest pair it has verified or written per alias name, and
// marks that alias deleted when it deletes it or sees it gone; a record
// before the mark, or of an alias marked deleted, is refused. See the
// package documentation (Rollback).

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// aliasVersion places an alias record: the creation time of the alias it
// belongs to and its sequence number since. A record sealed before these
// were bound is the zero aliasVersion (before every sealed one).
type aliasVersion struct {
	created time.Time
	seq     uint64
}

// refusedBy reports whether a record of version v is refused by floor, a
// mark: older than it, or of the alias it marks deleted.
func (v aliasVersion) refusedBy(floor *aliasVersion) bool {
	return floor != nil && (v.before(*floor) || floor.seq == tombstone && v.created.Equal(floor.created))
}

// before reports whether v is older than w.
func (v aliasVersion) before(w aliasVersion) bool {
	if c := v.created.Compare(w.created); c != 0 {
		return c < 0
	}
	return v.seq < w.seq
}

// aliasMarks is the latest alias record version verified or written per
// alias name, one entry per alias name this replica has verified a record
// of (or written) since it started. A mark whose seq is math.MaxUint64
// (tombstone) says the alias created at its time was deleted: no record of
// it is accepted again, and an alias created later is.
type aliasMarks struct {
	m sync.Map // alias name → *atomic.Pointer[aliasVersion]
}

// get is name's mark, nil when it has none.
func (ms *aliasMarks) get(name string) *aliasVersion {
	if p, ok := ms.m.Load(name); ok {
		return p.(*atomic.Pointer[aliasVersion]).Load()
	}
	return nil
}

// ptr is name's mark's pointer, made when missing.
func (ms *aliasMarks) ptr(name string) *atomic.Pointer[aliasVersion] {
	p, ok := ms.m.Load(name)
	if !ok {
		p, _ = ms.m.LoadOrStore(name, new(atomic.Pointer[aliasVersion]))
	}
	return p.(*atomic.Pointer[aliasVersion])
}

// checkFrom returns an *AliasRollbackError when v is older than floor,
// name's mark taken before the record was read (or of an alias floor
// marks deleted), and otherwise raises name's mark to v. As for keys
// (seqMarks.checkFrom): a record read outside the store's lock and
// overtaken in flight by a newer one is accepted, and the mark stays.
func (ms *aliasMarks) checkFrom(name string, v aliasVersion, floor *aliasVersion) error {
	if v.refusedBy(floor) {
		return &AliasRollbackError{Alias: name, Created: v.created, Seq: v.seq, SeenCreated: floor.created, SeenSeq: floor.seq}
	}
	ms.raise(name, v)
	return nil
}

// raise makes name's mark at least v.
func (ms *aliasMarks) raise(name string, v aliasVersion) {
	p := ms.ptr(name)
	for {
		cur := p.Load()
		if cur != nil && !cur.before(v) {
			return
		}
		if p.CompareAndSwap(cur, &v) {
			return
		}
	}
}

// bury marks the alias name created at created deleted, unless name's
// mark is of an alias created later (made since): no record of it, or of
// an alias created before, is accepted again.
func (ms *aliasMarks) bury(name string, created time.Time) {
	p := ms.ptr(name)
	dead := &aliasVersion{created: created, seq: tombstone}
	for {
		cur := p.Load()
		if cur != nil && (cur.created.After(created) || cur.seq == tombstone && cur.created.Equal(created)) {
			return
		}
		if p.CompareAndSwap(cur, dead) {
			return
		}
	}
}

// AliasRollbackError is an alias record older than one this replica has
// already verified or written for the alias name, or a record of an alias
// it saw deleted (SeenSeq is math.MaxUint64): a record put back in the
// store after UpdateAlias replaced it or DeleteAlias removed it. Requests
// naming the alias fail with KMSInternalException.
type AliasRollbackError struct {
	Alias string
	// Created and Seq place the refused record: when its alias was
	// created, and its sequence number since (both zero for a record
	// sealed before they were bound).
	Created time.Time
	Seq     uint64
	// SeenCreated and SeenSeq place the latest record this replica has
	// verified or written for the name.
	SeenCreated time.Time
	SeenSeq     uint64
}

// Error names the alias and both records' places.
func (e *AliasRollbackError) Error() string {
	if e.SeenSeq == tombstone {
		return fmt.Sprintf("kmsserver: rollback detected: alias %s created %s was deleted, and a record of it or of an older alias of that name (created %s, sequence %d) is back",
			e.Alias, fmtCreated(e.SeenCreated), fmtCreated(e.Created), e.Seq)
	}
	return fmt.Sprintf("kmsserver: rollback detected: alias %s's record (created %s, sequence %d) is older than the one this replica has verified (created %s, sequence %d)",
		e.Alias, fmtCreated(e.Created), e.Seq, fmtCreated(e.SeenCreated), e.SeenSeq)
}

// fmtCreated is an alias's creation time in messages: "unsealed" for the
// zero time of a record sealed before it was bound.
func fmtCreated(t time.Time) string {
	if t.IsZero() {
		return "unsealed"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// aliasRollback logs and counts a detected alias rollback; err is
// returned.
func (s *Server) aliasRollback(err *AliasRollbackError) error {
	s.cfg.Logger.Error("rollback detected: an alias record older than one this replica has verified is in the store; refusing it",
		"alias", s.aliasARN(err.Alias), "record_created", fmtCreated(err.Created), "record_seq", err.Seq,
		"seen_created", fmtCreated(err.SeenCreated), "seen_seq", err.SeenSeq, "deleted", err.SeenSeq == tombstone)
	s.metrics.aliasRollbacks.Inc()
	return err
}

// openAlias verifies a's MAC and returns its version: the sealed creation
// time and sequence number, or the zero version for a record sealed
// before they were bound (its MAC binds the name and key ID only).
// errAliasIntegrity when neither MAC holds.
func (s *Server) openAlias(a keystore.Alias) (aliasVersion, error) {
	if s.root.AliasRecordValid(a.Name, a.KeyID, a.CreatedAt, a.Seq, a.MAC) {
		return aliasVersion{created: a.CreatedAt, seq: a.Seq}, nil
	}
	if s.root.AliasValid(a.Name, a.KeyID, a.MAC) {
		return aliasVersion{}, nil
	}
	return aliasVersion{}, errAliasIntegrity
}

// checkAliasFrom verifies a, read after floor (name's mark then) was
// taken, and checks it against floor: errAliasIntegrity, or a logged and
// counted *AliasRollbackError.
func (s *Server) checkAliasFrom(a keystore.Alias, floor *aliasVersion) (aliasVersion, error) {
	v, err := s.openAlias(a)
	if err != nil {
		return v, err
	}
	var rb *AliasRollbackError
	if err := s.aliasMarks.checkFrom(a.Name, v, floor); errors.As(err, &rb) {
		return v, s.aliasRollback(rb)
	}
	return v, nil
}

// sealAlias sets a's sequence number to next and its MAC to bind it.
func (s *Server) sealAlias(a *keystore.Alias, next uint64) {
	a.Seq = next
	a.MAC = s.root.AliasRecordMAC(a.Name, a.KeyID, a.CreatedAt, a.Seq)
}

// aliasCreationTime is the creation time of alias name created now (by
// the request's clock, or the store's when it has one the replicas share:
// keystore.SharedClock): later than any alias of that name this replica
// has seen, so that every replica takes the new alias for a later one
// than a deleted alias of the same name (a replica whose clock lags
// another's must not create an alias the others take for an older one).
func (s *Server) aliasCreationTime(c *call, name string) (time.Time, error) {
	now := c.now
	if sc, ok := s.store.(keystore.SharedClock); ok {
		t, err := sc.Now(c.ctx)
		if err != nil {
			return time.Time{}, err
		}
		now = t
	}
	now = now.UTC().Round(0) // the wall clock only, as the record keeps it
	if m := s.aliasMarks.get(name); m != nil && !now.After(m.created) {
		now = m.created.Add(time.Nanosecond).UTC()
	}
	return now, nil
}
