// SPDX-License-Identifier: Apache-2.0

package keystore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Sentinel errors returned by every [Store] implementation, matched with
// errors.Is.
var (
	// ErrNotFound: no key or alias with that name.
	ErrNotFound = errors.New("keystore: not found")
	// ErrExists: a key or alias with that name already exists.
	ErrExists = errors.New("keystore: already exists")
	// ErrLocked: another process holds the store (directory backend).
	ErrLocked = errors.New("keystore: store is locked by another process")
	// ErrCorrupt: a stored record could not be decoded.
	ErrCorrupt = errors.New("keystore: corrupt record")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("keystore: closed")
	// ErrUnavailable: the store's backing service (a database) could not
	// be reached or did not answer in time. The operation may or may not
	// have taken effect when it was a write; callers answer a retryable
	// error (KMS's DependencyTimeoutException) and the store recovers by
	// itself when the service returns.
	ErrUnavailable = errors.New("keystore: backing store unavailable")
	// ErrTooLarge: a write was refused because its record would be larger
	// than a backend may write ([MaxKeyRecordBytes] for a key record).
	// Nothing was written; the kms-server answers LimitExceededException.
	ErrTooLarge = errors.New("keystore: record too large")
)

// MaxKeyRecordBytes bounds a key record as a backend writes it: its JSON
// (for PostgreSQL, the record column plus the wrapped material). A write
// that would make a record larger, and larger than the record it
// replaces, fails with a [*TooLargeError]: so every record a store
// acknowledged reads back (the directory backend reads records of up to
// 16 MiB), while a record over the bound written before the bound existed
// can still shrink. The kms-server's own limits (AWS's: grants and their
// constraints, tags, policy size) keep its records under a MiB.
const MaxKeyRecordBytes = 4 << 20

// TooLargeError is a write a backend refused because its record would
// have been Size bytes, over Limit. It matches [ErrTooLarge].
type TooLargeError struct {
	// Record names the record: "key <ID>", or "aliases.json" for the
	// directory backend's alias table.
	Record      string
	Size, Limit int
}

// Error says which record was refused and by how much.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("keystore: %s would be %d bytes, over the %d bytes a record may have; nothing was written", e.Record, e.Size, e.Limit)
}

// Is matches [ErrTooLarge].
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// CheckKeyRecordSize is the bound of [MaxKeyRecordBytes] for backends: nil
// when a record of key id of size bytes may replace one of previous bytes
// (0 for a new key), else a [*TooLargeError].
func CheckKeyRecordSize(id string, size, previous int) error {
	if size > MaxKeyRecordBytes && size > previous {
		return &TooLargeError{Record: "key " + id, Size: size, Limit: MaxKeyRecordBytes}
	}
	return nil
}

type cachedReadsKey struct{}

// WithCachedReads marks ctx so that a backend configured to do so may
// answer [Store.GetKey] and [Store.GetAlias] from its cache of records it
// read earlier when its backing service is unavailable, instead of failing
// with [ErrUnavailable]. The kms-server sets it for Decrypt and
// GenerateDataKey only; backends without such a cache ignore it.
func WithCachedReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, cachedReadsKey{}, true)
}

// CachedReadsAllowed reports whether ctx was marked by [WithCachedReads].
func CachedReadsAllowed(ctx context.Context) bool {
	v, _ := ctx.Value(cachedReadsKey{}).(bool)
	return v
}

// Key states, as KMS names them.
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"
	// StatePendingImport is a key of Origin EXTERNAL without key material:
	// created so, or after DeleteImportedKeyMaterial or its expiry.
	StatePendingImport = "PendingImport"
)

// OriginExternal is the Origin of a key whose material is imported.
const OriginExternal = "EXTERNAL"

// Key is one KMS key as stored. Backends store every field verbatim.
type Key struct {
	ID          string    `json:"id"` // UUID, the KMS key ID
	CreatedAt   time.Time `json:"created_at"`
	Description string    `json:"description,omitempty"`
	KeySpec     string    `json:"key_spec"`  // SYMMETRIC_DEFAULT, HMAC_256, ...
	KeyUsage    string    `json:"key_usage"` // ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC
	State       string    `json:"state"`     // StateEnabled, StateDisabled, StatePendingDeletion
	// DeletionDate is set while State is StatePendingDeletion.
	DeletionDate        time.Time `json:"deletion_date,omitzero"`
	PendingWindowInDays int       `json:"pending_window_in_days,omitempty"`
	// Policy is the key policy document (JSON) named "default".
	Policy string `json:"policy"`
	// WrappedMaterial is the key material sealed under the server's root
	// key; opaque to the store.
	WrappedMaterial []byte `json:"wrapped_material"`
	// Revision is incremented by the store on every update.
	Revision int64 `json:"revision"`
	// Seq is the kms-server's sequence number of the record: one more
	// than the record it replaced at every write that seals the material
	// again, bound to WrappedMaterial under the root key (so that a
	// server can tell an old record put back from the latest). 0 for a
	// record sealed before it existed. Stores keep it verbatim.
	Seq uint64 `json:"seq,omitempty"`
	// Tags are the key's tags (TagResource), in the order the server keeps
	// them (by tag key).
	Tags []Tag `json:"tags,omitempty"`
	// MaterialID names the current material, the one WrappedMaterial
	// holds (64 hex digits); "" for a key made before rotation existed
	// and not rotated since.
	MaterialID string `json:"material_id,omitempty"`
	// RetiredMaterials are the materials earlier rotations replaced,
	// oldest first, each sealed under the root key: ciphertexts made under
	// them still decrypt. A rotation appends to it in the same update that
	// replaces WrappedMaterial, so no acknowledged material is ever lost.
	RetiredMaterials []RetiredMaterial `json:"retired_materials,omitempty"`
	// Rotations records every rotation, oldest first.
	Rotations []Rotation `json:"rotations,omitempty"`
	// RotationEnabled is true while automatic rotation is on, every
	// RotationPeriodInDays days; NextRotationDate is when it is due.
	RotationEnabled      bool      `json:"rotation_enabled,omitempty"`
	RotationPeriodInDays int       `json:"rotation_period_in_days,omitempty"`
	NextRotationDate     time.Time `json:"next_rotation_date,omitzero"`
	// Grants are the key's grants (CreateGrant), oldest first.
	Grants []Grant `json:"grants,omitempty"`
	// Origin is OriginExternal for a key whose material is imported, ""
	// for AWS_KMS. ValidTo is when imported material expires (zero: it
	// does not).
	Origin  string    `json:"origin,omitempty"`
	ValidTo time.Time `json:"valid_to,omitzero"`
	// LastUsage is the key's last successful cryptographic operation as
	// last persisted (GetKeyLastUsage); zero when none was. The server
	// keeps it in memory and writes it here coalesced, so it may lag the
	// latest use. Not bound to the key material: it is informational.
	LastUsage KeyUsage `json:"last_usage,omitzero"`
	// UsageTrackingStart is when the server began tracking the key's
	// usage (its creation for keys created since tracking exists); zero
	// for an older key until usage is first persisted for it.
	UsageTrackingStart time.Time `json:"usage_tracking_start,omitzero"`
}

// KeyUsage is one successful cryptographic operation on a key.
type KeyUsage struct {
	// Operation is the KMS operation, e.g. "Decrypt".
	Operation string `json:"operation"`
	// Time is when the server received the request.
	Time time.Time `json:"time"`
	// RequestID is the request's x-amzn-RequestId (and the audit line's
	// requestId).
	RequestID string `json:"request_id"`
}

// Grant is one grant on a key: GranteePrincipal may perform Operations on
// the key, within Constraints.
type Grant struct {
	ID                string    `json:"id"` // 64 hex digits
	Name              string    `json:"name,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	GranteePrincipal  string    `json:"grantee_principal"`
	RetiringPrincipal string    `json:"retiring_principal,omitempty"`
	// IssuingAccount is the account of the principal that created it.
	IssuingAccount string   `json:"issuing_account"`
	Operations     []string `json:"operations"`
	// EncryptionContextEquals and EncryptionContextSubset are the grant
	// constraints (at most one is set). An empty map is not stored
	// (omitempty): it reads back as nil, so it means no constraint.
	EncryptionContextEquals map[string]string `json:"encryption_context_equals,omitempty"`
	EncryptionContextSubset map[string]string `json:"encryption_context_subset,omitempty"`
}

// Clone returns a deep copy of g.
func (g Grant) Clone() Grant {
	g.Operations = slices.Clone(g.Operations)
	g.EncryptionContextEquals = maps.Clone(g.EncryptionContextEquals)
	g.EncryptionContextSubset = maps.Clone(g.EncryptionContextSubset)
	return g
}

// RetiredMaterial is a key material a rotation replaced.
type RetiredMaterial struct {
	// MaterialID names it ("" for the original material of a key made
	// before rotation existed).
	MaterialID string `json:"material_id"`
	// WrappedMaterial is the material sealed under the root key; opaque to
	// the store.
	WrappedMaterial []byte `json:"wrapped_material"`
}

// Rotation is one rotation of a key's material.
type Rotation struct {
	// MaterialID names the material the rotation made current.
	MaterialID string    `json:"material_id"`
	Date       time.Time `json:"date"`
	// Type is AUTOMATIC or ON_DEMAND, as KMS names them.
	Type string `json:"type"`
}

// Tag is one tag of a key.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Clone returns a deep copy of k.
func (k *Key) Clone() *Key {
	c := *k
	c.WrappedMaterial = append([]byte(nil), k.WrappedMaterial...)
	c.Tags = slices.Clone(k.Tags)
	c.Rotations = slices.Clone(k.Rotations)
	c.Grants = nil
	for _, g := range k.Grants {
		c.Grants = append(c.Grants, g.Clone())
	}
	c.RetiredMaterials = nil
	for _, r := range k.RetiredMaterials {
		c.RetiredMaterials = append(c.RetiredMaterials, RetiredMaterial{MaterialID: r.MaterialID, WrappedMaterial: slices.Clone(r.WrappedMaterial)})
	}
	return &c
}

// Alias maps an alias name ("alias/...") to a key ID.
type Alias struct {
	Name      string    `json:"name"`
	KeyID     string    `json:"key_id"`
	CreatedAt time.Time `json:"created_at"`
	// MAC binds Name, KeyID, CreatedAt and Seq under the server's root
	// key (for a record written before Seq existed: Name and KeyID only);
	// opaque to the store, which keeps it verbatim.
	MAC []byte `json:"mac,omitempty"`
	// UpdatedAt is when the alias was last pointed at a key (zero until
	// its first UpdateAlias).
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Seq is the kms-server's sequence number of the record within the
	// alias's life (since CreatedAt): 1 when created, one more at every
	// UpdateAlias, bound by MAC, so that a server can tell an old record
	// put back from the latest. 0 for a record written before it
	// existed. Stores keep it verbatim.
	Seq uint64 `json:"seq,omitempty"`
}

// Clone returns a deep copy of a.
func (a Alias) Clone() Alias {
	a.MAC = slices.Clone(a.MAC)
	return a
}

// Store is the storage interface of the kms-server. Implementations must be
// safe for concurrent use; every method is atomic and durable when it
// returns nil.
type Store interface {
	// CreateKey stores a new key; ErrExists when the ID is taken.
	CreateKey(ctx context.Context, k *Key) error
	// GetKey returns a copy of the key; ErrNotFound when absent.
	GetKey(ctx context.Context, id string) (*Key, error)
	// UpdateKey runs fn on a copy of the current key inside one
	// transaction and stores the result (with Revision incremented) when fn
	// returns nil; fn's error is returned unchanged and nothing is written.
	// It returns the stored key.
	UpdateKey(ctx context.Context, id string, fn func(*Key) error) (*Key, error)
	// ListKeys returns every key, ordered by ID.
	ListKeys(ctx context.Context) ([]*Key, error)
	// DeleteKey removes a key's record (its sealed material with it) and
	// every alias naming the key, for good; ErrNotFound when absent. When
	// check is not nil it first runs on a copy of the key as stored now,
	// inside the same transaction (row lock) as the deletion, and when it
	// returns an error nothing is deleted and the error is returned
	// unchanged: the key is judged as it is when it goes, not as the
	// caller last read it. The server calls it when a key's deletion date
	// has passed, with a check that the record is still pending deletion
	// and due (a CancelKeyDeletion may have committed since its listing).
	DeleteKey(ctx context.Context, id string, check func(*Key) error) error
	// CreateAlias adds an alias; ErrExists when the name is taken,
	// ErrNotFound when the target key does not exist.
	CreateAlias(ctx context.Context, a Alias) error
	// GetAlias returns the alias; ErrNotFound when absent.
	GetAlias(ctx context.Context, name string) (Alias, error)
	// UpdateAlias runs fn on a copy of alias name as stored now, inside
	// one transaction (PostgreSQL's row lock, the directory's lock), and
	// stores the result when fn returns nil: fn may change KeyID, MAC,
	// UpdatedAt and Seq (Name and CreatedAt stay). fn's error is returned
	// unchanged and nothing is written. So the write is conditional on
	// the record fn saw: the server verifies it and seals the next
	// sequence number in fn, and two servers racing cannot both write on
	// top of the same record. The write is atomic: there is no moment,
	// crash included, at which the alias is absent or names no key.
	// ErrNotFound when the alias, or the key fn points it at, does not
	// exist.
	UpdateAlias(ctx context.Context, name string, fn func(*Alias) error) error
	// DeleteAlias removes an alias; ErrNotFound when absent.
	DeleteAlias(ctx context.Context, name string) error
	// ListAliases returns every alias, ordered by name.
	ListAliases(ctx context.Context) ([]Alias, error)
	// Close releases the store (and its lock).
	Close() error
}

// SharedClock is implemented by a store that several server processes
// share and that has a clock of its own (PostgreSQL's). The server judges
// due dates (key deletion, automatic rotation) by its own clock, and runs a
// sweep only while that clock agrees with the store's: one replica whose
// clock runs ahead must not destroy or rotate keys early for all of them.
type SharedClock interface {
	// Now returns the store's current time; an error matching
	// ErrUnavailable when the store cannot be reached.
	Now(ctx context.Context) (time.Time, error)
}

// CorruptError reports a record that could not be decoded.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("keystore: corrupt record %s: %v", e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// Is matches ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// LockedError reports a directory held by another process.
type LockedError struct {
	Dir string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("keystore: %s is in use by another kms-server process (lock held on %s/LOCK)", e.Dir, e.Dir)
}

// Is matches ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }
