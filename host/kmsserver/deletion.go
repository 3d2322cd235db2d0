// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Destroying keys whose deletion date has passed: a background loop of
// Serve, as vault's periodicFunc. One key's failure is logged and counted,
// never fatal; it is retried at the next sweep.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// deletionLoop sweeps once at once, then every DeletionSweepInterval until
// ctx ends.
func (s *Server) deletionLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.DeletionSweepInterval)
	defer t.Stop()
	for {
		s.sweepDeletions(ctx)
		if s.cfg.sweepDone != nil {
			s.cfg.sweepDone("deletion")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepDeletions destroys every key pending deletion whose deletion date
// has passed: its record (with the sealed material) and its aliases leave
// the store, so that nobody who can write to the store can bring the key
// back by editing the record (a copy of the record from before, kept by
// such a writer or in a backup, is still validly sealed: put back, it is
// refused only by a replica that saw the key destroyed or a newer record,
// see rollback.go). The record is judged as it is when it goes,
// inside Store.DeleteKey's transaction, not as listed: it is verified (the
// state and deletion date are bound to the material, so only a deletion
// scheduled through the server is carried out) and must still be pending
// deletion and due, so a CancelKeyDeletion that committed after the listing
// keeps the key. Due is judged by this replica's clock, and nothing is
// destroyed while that clock disagrees with the store's, or while the
// audit log cannot be written (sweepclock.go).
// It returns how many keys it destroyed.
func (s *Server) sweepDeletions(ctx context.Context) int {
	now := s.cfg.Clock()
	keys, err := s.store.ListKeys(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Error("key deletion sweep: cannot list keys", "error", err)
			s.metrics.deletions.WithLabelValues("failed").Inc()
		}
		return 0
	}
	s.forgetAbsentKeys(keys)
	// Keys another replica destroyed leave memory whatever this clock
	// says; destroying waits for the clocks to agree.
	if !s.sweepClockAgrees(ctx, now, "key deletion", s.metrics.deletions) ||
		!s.sweepAuditWritable("key deletion", s.metrics.deletions) {
		return 0
	}
	n := 0
	for _, k := range keys {
		if ctx.Err() != nil {
			return n
		}
		if k.State != keystore.StatePendingDeletion || now.Before(k.DeletionDate) {
			continue
		}
		arn := s.keyARN(k.ID)
		// The listing may be stale (a CancelKeyDeletion may have committed
		// since): the record is judged again as it is when it goes, under
		// the store's lock.
		var integrity error
		err := s.store.DeleteKey(ctx, k.ID, func(cur *keystore.Key) error {
			_, v, err := s.openRecord(cur)
			if err != nil {
				integrity = err
				return err
			}
			if !v.State {
				// Written before the state was bound: its PendingDeletion
				// and deletion date may be a store writer's, not a
				// ScheduleKeyDeletion's. Such a record is rewrapped (and
				// its state bound) at its next change of state, so a
				// deletion scheduled through the server never lands here.
				integrity = errStateNotSealed
				return integrity
			}
			if cur.State != keystore.StatePendingDeletion || now.Before(cur.DeletionDate) {
				return errNoLongerDue
			}
			return nil
		})
		switch {
		case errors.Is(err, errNoLongerDue):
			s.cfg.Logger.Info("key deletion: the key is no longer due for deletion (its deletion was cancelled); keeping it", "key", arn)
			continue
		case integrity != nil:
			s.cfg.Logger.Error("key deletion: record fails its integrity check; not deleting it", "key", arn, "error", integrity)
			s.metrics.deletions.WithLabelValues("failed").Inc()
			continue
		case errors.Is(err, keystore.ErrNotFound):
			// Another replica destroyed it since the listing, and
			// counted and audited that: here it only leaves memory (and
			// a record of it put back is refused).
			s.marks.bury(k.ID)
			s.forgetKey(k.ID)
			continue
		case err != nil:
			s.cfg.Logger.Error("key deletion failed; retrying at the next sweep", "key", arn, "error", err)
			s.metrics.deletions.WithLabelValues("failed").Inc()
			continue
		}
		s.marks.bury(k.ID) // destroyed: a record of it put back is refused
		s.forgetKey(k.ID)
		s.metrics.deletions.WithLabelValues("destroyed").Inc()
		s.cfg.Logger.Info("key deleted: its deletion date has passed", "key", arn, "deletion_date", k.DeletionDate)
		// As CloudTrail records KMS's own DeleteKey event.
		if err := s.audit.write(&auditEvent{Time: now.UTC().Format(time.RFC3339Nano), RequestID: s.newRequestID(),
			Operation: "DeleteKey", Principal: "kms-server", KeyARN: arn, Decision: "allow"}); err != nil {
			// The log broke during this sweep: the destruction is in
			// this log line at least, and the sweep stops.
			s.cfg.Logger.Error("key deleted, but its audit line could not be written", "key", arn, "error", err)
			return n + 1
		}
		n++
	}
	return n
}

// errStateNotSealed is the sweep's check refusing a record whose state the
// seal does not cover (keymaterial label v1).
var errStateNotSealed = errors.New("kmsserver: the record's state is not sealed (written before the state was bound): its pending deletion cannot be told from a store writer's edit")

// forgetKey drops a destroyed key's current material, parsed policy and
// usage from memory (its retired materials go at the next sweep's
// forgetAbsentKeys).
func (s *Server) forgetKey(id string) {
	s.materials.Delete(id)
	s.policies.Delete(id)
	s.usage.forget(id)
}

// errNoLongerDue is the sweep's check refusing a key whose current record is
// no longer pending deletion, or not yet due.
var errNoLongerDue = errors.New("kmsserver: key no longer due for deletion")

// forgetAbsentKeys drops from memory every key that is not in keys, the
// store's listing (the current and retired materials of each): one destroyed by another replica (sharing PostgreSQL)
// never reaches this replica's sweep, and without this its unwrapped
// material, parsed policy and usage would stay until the process ends. A
// key created after the listing loses only its cache entries (verified
// again at its next use); its usage is dropped only once written (an
// entry still to be written is kept, as FlushKeyUsage forgets a key the
// store no longer has).
func (s *Server) forgetAbsentKeys(keys []*keystore.Key) {
	present := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		present[k.ID] = struct{}{}
	}
	for _, m := range []*sync.Map{&s.materials, &s.policies} {
		m.Range(func(k, _ any) bool {
			id, _, _ := strings.Cut(k.(string), "/") // a retired material's entry: ID/materialID
			if _, ok := present[id]; !ok {
				m.Delete(k)
			}
			return true
		})
	}
	s.usage.forgetWrittenExcept(present)
}
