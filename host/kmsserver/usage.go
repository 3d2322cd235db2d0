// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Key last usage (GetKeyLastUsage): every successful cryptographic
// operation notes its keys in memory, at the cost of a map lookup and a
// mutex; nothing is written on the request path. A loop of Serve writes
// the keys used since its last round to the store, at most once per key per
// KeyUsageFlushInterval, and Serve writes them once more when it stops.
// Writes merge by timestamp inside Store.UpdateKey, so replicas sharing
// PostgreSQL keep the latest use of any of them.

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// trackedOp reports whether op is an operation whose success counts as a use of its
// keys: KMS's KeyLastUsageTrackingOperation values.
func trackedOp(op string) bool {
	switch op {
	case "Decrypt", "DeriveSharedSecret", "Encrypt", "GenerateDataKey", "GenerateDataKeyPair",
		"GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyWithoutPlaintext", "GenerateMac",
		"ReEncrypt", "Sign", "Verify", "VerifyMac", "Encapsulate", "Decapsulate":
		return true
	}
	return false
}

// noteUse remembers that the request authorized key id; the use counts
// once the request succeeds (recordUses). ReEncrypt notes two keys.
func (c *call) noteUse(id string) {
	if !trackedOp(c.op) {
		return
	}
	for _, u := range c.used[:c.nUsed] {
		if u == id {
			return
		}
	}
	if c.nUsed < len(c.used) {
		c.used[c.nUsed] = id
		c.nUsed++
	}
}

// usageTracker holds the last use of every key seen since the server
// started, and whether it has reached the store.
type usageTracker struct {
	mu   sync.RWMutex
	keys map[string]*usageEntry
}

type usageEntry struct {
	mu    sync.Mutex
	last  keystore.KeyUsage
	dirty bool // last is newer than what the store holds
	gone  bool // removed from the map (forgetWrittenExcept): take a new entry
}

func newUsageTracker() *usageTracker {
	return &usageTracker{keys: make(map[string]*usageEntry)}
}

func (t *usageTracker) entry(id string) *usageEntry {
	t.mu.RLock()
	e := t.keys[id]
	t.mu.RUnlock()
	if e != nil {
		return e
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e = t.keys[id]; e == nil {
		e = &usageEntry{}
		t.keys[id] = e
	}
	return e
}

// note records a use of key id unless a later one is known.
func (t *usageTracker) note(id, op string, at time.Time, requestID string) {
	t.merge(id, keystore.KeyUsage{Operation: op, Time: at, RequestID: requestID})
}

// merge records u as id's last use, to be written, unless a later one is
// known (which is then still to be written itself, or written already).
func (t *usageTracker) merge(id string, u keystore.KeyUsage) {
	for {
		e := t.entry(id)
		e.mu.Lock()
		if e.gone { // removed since entry found it: its writes would be lost
			e.mu.Unlock()
			continue
		}
		if !u.Time.Before(e.last.Time) {
			e.last = u
			e.dirty = true
		}
		e.mu.Unlock()
		return
	}
}

// last returns the last use of id seen by this server (zero when none).
func (t *usageTracker) last(id string) keystore.KeyUsage {
	t.mu.RLock()
	e := t.keys[id]
	t.mu.RUnlock()
	if e == nil {
		return keystore.KeyUsage{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// takeDirty returns the keys whose last use has not reached the store, and
// marks them clean; a failed write marks its key dirty again (redirty).
func (t *usageTracker) takeDirty() map[string]keystore.KeyUsage {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(map[string]keystore.KeyUsage)
	for id, e := range t.keys {
		e.mu.Lock()
		if e.dirty {
			out[id] = e.last
			e.dirty = false
		}
		e.mu.Unlock()
	}
	return out
}

// redirty notes u, a use whose write failed, again, so that the next
// flush retries it (its entry may have been dropped meanwhile).
func (t *usageTracker) redirty(id string, u keystore.KeyUsage) { t.merge(id, u) }

func (t *usageTracker) forget(id string) {
	t.mu.Lock()
	delete(t.keys, id)
	t.mu.Unlock()
}

// forgetWrittenExcept drops the entries of keys not in keep whose last
// use has reached the store (see Server.forgetAbsentKeys).
func (t *usageTracker) forgetWrittenExcept(keep map[string]struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, e := range t.keys {
		if _, ok := keep[id]; ok {
			continue
		}
		e.mu.Lock()
		if !e.dirty {
			e.gone = true
			delete(t.keys, id)
		}
		e.mu.Unlock()
	}
}

// recordUses notes the keys of a successful request.
func (s *Server) recordUses(c *call) {
	for _, id := range c.used[:c.nUsed] {
		s.usage.note(id, c.op, c.now, c.ev.RequestID)
	}
}

// errUnchanged ends an UpdateKey that has nothing to write.
var errUnchanged = errors.New("kmsserver: usage unchanged")

// FlushKeyUsage writes to the store the last use of every key used since
// the previous flush, keeping for each key the later of its stored and its
// noted use, and returns the first error (the keys that failed stay noted
// for the next flush). [Server.Serve] calls it every
// [Config.KeyUsageFlushInterval] and once when it stops; a program that
// mounts [Server.Handler] itself calls it likewise.
func (s *Server) FlushKeyUsage(ctx context.Context) error {
	var first error
	for id, u := range s.usage.takeDirty() {
		_, err := s.store.UpdateKey(ctx, id, func(k *keystore.Key) error {
			changed := false
			if u.Time.After(k.LastUsage.Time) {
				k.LastUsage = u
				changed = true
			}
			if k.UsageTrackingStart.IsZero() {
				k.UsageTrackingStart = s.trackingStart(k)
				changed = true
			}
			if !changed {
				return errUnchanged
			}
			return nil
		})
		switch {
		case err == nil, errors.Is(err, errUnchanged):
		case errors.Is(err, keystore.ErrNotFound):
			s.usage.forget(id) // destroyed since
		default:
			s.usage.redirty(id, u)
			s.metrics.usageFlushFailures.Inc()
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// trackingStart is when usage tracking began for k: as stored, or for a
// key created before tracking existed, when this server started (or the
// key was created, if later), the earliest use it can vouch for.
func (s *Server) trackingStart(k *keystore.Key) time.Time {
	if !k.UsageTrackingStart.IsZero() {
		return k.UsageTrackingStart
	}
	if k.CreatedAt.After(s.started) {
		return k.CreatedAt
	}
	return s.started
}

// usageLoop flushes key usage every KeyUsageFlushInterval until ctx ends.
func (s *Server) usageLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.KeyUsageFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.FlushKeyUsage(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("key usage flush failed; retrying at the next round", "error", err)
		}
	}
}
