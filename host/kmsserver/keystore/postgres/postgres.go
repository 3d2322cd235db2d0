// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// Config configures [Open].
type Config struct {
	// URL is the connection string in libpq/pgx syntax, e.g.
	// "postgres://kms:secret@db.internal:5432/kms?sslmode=verify-full".
	// Pool settings such as pool_max_conns may be given in it.
	URL string
	// OperationTimeout bounds every method (all its round trips, retries
	// included); past it the method fails with keystore.ErrUnavailable.
	// Default 5 seconds.
	OperationTimeout time.Duration
	// MaxConns bounds the connection pool; 0 keeps pool_max_conns from the
	// URL or the default of 16.
	MaxConns int32
	// CachedReadsOnOutage lets GetKey and GetAlias answer from the records
	// this store read earlier when the database is unavailable, for
	// requests whose context is marked with keystore.WithCachedReads.
	// Default false: every read reaches the database, and a key disabled
	// through another replica can never be used here. When true, a key
	// disabled (or an alias moved) during an outage stays usable on this
	// replica until the database is back or CachedReadsMaxAge passes.
	CachedReadsOnOutage bool
	// CachedReadsMaxAge is how long after this store last read (or wrote)
	// a record it may still be served during an outage; default 5
	// minutes, at most [MaxCachedReadsMaxAge]. The window starts at that
	// last read, not at the outage's start: a key disabled through another
	// replica after it stays usable here for up to this long.
	CachedReadsMaxAge time.Duration
	// Clock returns the current time (for CachedReadsMaxAge); default
	// time.Now.
	Clock func() time.Time
}

// MaxCachedReadsMaxAge bounds [Config.CachedReadsMaxAge]: how long a
// record may be served from the cache after it was read.
const MaxCachedReadsMaxAge = time.Hour

// Store is the PostgreSQL implementation of keystore.Store. Create it with
// [Open]; it is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	closed  atomic.Bool

	cacheOn  bool
	cacheAge time.Duration
	clock    func() time.Time
	cacheMu  sync.Mutex
	keys     map[string]cachedKey
	aliases  map[string]cachedAlias
}

type cachedKey struct {
	k  *keystore.Key
	at time.Time
}

type cachedAlias struct {
	a  keystore.Alias
	at time.Time
}

var (
	_ keystore.Store       = (*Store)(nil)
	_ keystore.SharedClock = (*Store)(nil)
)

// Open connects to the database, creates or migrates the schema (see the
// package documentation) and returns the store. It fails with an error
// matching keystore.ErrUnavailable when the database cannot be reached
// within cfg.OperationTimeout, and with [ErrSchemaTooNew] when the database
// was migrated by a newer release.
func Open(ctx context.Context, cfg *Config) (*Store, error) {
	if cfg == nil || cfg.URL == "" {
		return nil, errors.New("postgres: no connection URL")
	}
	if cfg.CachedReadsMaxAge > MaxCachedReadsMaxAge {
		return nil, fmt.Errorf("postgres: CachedReadsMaxAge %s exceeds %s", cfg.CachedReadsMaxAge, MaxCachedReadsMaxAge)
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: invalid connection URL (see https://pkg.go.dev/github.com/jackc/pgx/v5/pgconn#ParseConfig)")
	}
	s := &Store{
		timeout:  cfg.OperationTimeout,
		cacheOn:  cfg.CachedReadsOnOutage,
		cacheAge: cfg.CachedReadsMaxAge,
		clock:    cfg.Clock,
		keys:     map[string]cachedKey{},
		aliases:  map[string]cachedAlias{},
	}
	if s.timeout <= 0 {
		s.timeout = 5 * time.Second
	}
	if s.cacheAge <= 0 {
		s.cacheAge = 5 * time.Minute
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	switch {
	case cfg.MaxConns > 0:
		pc.MaxConns = cfg.MaxConns
	case !hasParam(cfg.URL, "pool_max_conns"):
		pc.MaxConns = 16
	}
	if pc.ConnConfig.ConnectTimeout == 0 || pc.ConnConfig.ConnectTimeout > s.timeout {
		pc.ConnConfig.ConnectTimeout = s.timeout
	}
	// Durable commits whatever the server's default is.
	pc.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	if pc.ConnConfig.RuntimeParams["application_name"] == "" {
		pc.ConnConfig.RuntimeParams["application_name"] = "enclavekit-kms-server"
	}
	// Check every connection that sat idle before use, so a connection the
	// server closed (restart, pg_terminate_backend) is replaced rather than
	// failing a request.
	pc.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool { return p.IdleDuration > 200*time.Millisecond }
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s.pool = pool
	mctx, cancel := context.WithTimeout(ctx, 4*s.timeout)
	defer cancel()
	if err := migrate(mctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connection pool. Further calls fail with
// keystore.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pool.Close()
	return nil
}

// Pool returns the connection pool (for health checks and tests).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Now implements keystore.SharedClock: the database server's clock
// (clock_timestamp(), not the transaction's start), which every replica
// sharing the database sees.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := s.op(ctx, "Now", true, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&t)
	})
	return t, err
}

// op runs fn with the operation timeout; a read (retry true) whose failure
// is a lost or refused connection is retried once, a write only when
// nothing was sent.
func (s *Store) op(ctx context.Context, name string, read bool, fn func(ctx context.Context) error) error {
	if s.closed.Load() {
		return keystore.ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		err = fn(ctx)
		if err == nil || !retryable(err, read) || ctx.Err() != nil {
			break
		}
	}
	if err == nil {
		return nil
	}
	return s.classify(ctx, name, err)
}

// CreateKey implements keystore.Store. The stored revision is 1.
func (s *Store) CreateKey(ctx context.Context, k *keystore.Key) error {
	if k == nil || k.ID == "" {
		return errors.New("postgres: key without ID")
	}
	c := k.Clone()
	c.Revision = 1
	rec, err := keyRecord(c)
	if err != nil {
		return err
	}
	if err := keystore.CheckKeyRecordSize(c.ID, len(rec)+len(c.WrappedMaterial), 0); err != nil {
		return err
	}
	err = s.op(ctx, "CreateKey", false, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx,
			`INSERT INTO keys (id, state, record, wrapped_material, revision) VALUES ($1, $2, $3::jsonb, $4, 1)`,
			c.ID, c.State, rec, c.WrappedMaterial)
		return err
	})
	if err != nil {
		return err
	}
	s.remember(c)
	return nil
}

// GetKey implements keystore.Store.
func (s *Store) GetKey(ctx context.Context, id string) (*keystore.Key, error) {
	var k *keystore.Key
	err := s.op(ctx, "GetKey", true, func(ctx context.Context) error {
		row := s.pool.QueryRow(ctx, `SELECT id, record, wrapped_material, revision FROM keys WHERE id = $1`, id)
		var err error
		k, err = scanKey(row)
		return err
	})
	if err != nil {
		if errors.Is(err, keystore.ErrUnavailable) && keystore.CachedReadsAllowed(ctx) {
			if c, ok := s.cachedKey(id); ok {
				return c, nil
			}
		}
		if errors.Is(err, keystore.ErrNotFound) {
			s.forgetKey(id)
		}
		return nil, err
	}
	s.remember(k)
	return k, nil
}

// UpdateKey implements keystore.Store: SELECT … FOR UPDATE, fn, UPDATE,
// in one transaction.
func (s *Store) UpdateKey(ctx context.Context, id string, fn func(*keystore.Key) error) (*keystore.Key, error) {
	var out *keystore.Key
	var fnErr error
	err := s.op(ctx, "UpdateKey", false, func(ctx context.Context) error {
		fnErr = nil
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			row := tx.QueryRow(ctx, `SELECT id, record, wrapped_material, revision FROM keys WHERE id = $1 FOR UPDATE`, id)
			cur, err := scanKey(row)
			if err != nil {
				return err
			}
			c := cur.Clone()
			if err := fn(c); err != nil {
				fnErr = err
				return errFnAborted
			}
			c.ID = id
			c.Revision = cur.Revision + 1
			rec, err := keyRecord(c)
			if err == nil {
				err = checkGrowth(c, rec, cur)
			}
			if err != nil {
				fnErr = err
				return errFnAborted
			}
			if _, err := tx.Exec(ctx,
				`UPDATE keys SET state = $2, record = $3::jsonb, wrapped_material = $4, revision = $5 WHERE id = $1`,
				id, c.State, rec, c.WrappedMaterial, c.Revision); err != nil {
				return err
			}
			out = c
			return nil
		})
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, err
	}
	s.remember(out)
	return out.Clone(), nil
}

// errFnAborted rolls back the transaction of UpdateKey when fn failed (of
// DeleteKey when check did); their own error is returned to the caller.
var errFnAborted = errors.New("postgres: update aborted")

// ListKeys implements keystore.Store: every key, ordered by ID (byte
// order, as Go compares strings).
func (s *Store) ListKeys(ctx context.Context) ([]*keystore.Key, error) {
	var out []*keystore.Key
	err := s.op(ctx, "ListKeys", true, func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.pool.Query(ctx, `SELECT id, record, wrapped_material, revision FROM keys ORDER BY id COLLATE "C"`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			out = append(out, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []*keystore.Key{}
	}
	return out, nil
}

// CreateAlias implements keystore.Store. Uniqueness is the primary key
// (unique_violation → keystore.ErrExists) and the target's existence a
// foreign key (foreign_key_violation → keystore.ErrNotFound), both checked
// by the database in the same statement.
func (s *Store) CreateAlias(ctx context.Context, a keystore.Alias) error {
	rec, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	err = s.op(ctx, "CreateAlias", false, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `INSERT INTO aliases (name, key_id, record) VALUES ($1, $2, $3::jsonb)`, a.Name, a.KeyID, string(rec))
		return err
	})
	if err != nil {
		return err
	}
	s.rememberAlias(a)
	return nil
}

// GetAlias implements keystore.Store.
func (s *Store) GetAlias(ctx context.Context, name string) (keystore.Alias, error) {
	var a keystore.Alias
	err := s.op(ctx, "GetAlias", true, func(ctx context.Context) error {
		var rec []byte
		if err := s.pool.QueryRow(ctx, `SELECT record FROM aliases WHERE name = $1`, name).Scan(&rec); err != nil {
			return err
		}
		return decodeAlias(name, rec, &a)
	})
	if err != nil {
		if errors.Is(err, keystore.ErrUnavailable) && keystore.CachedReadsAllowed(ctx) {
			if c, ok := s.cachedAlias(name); ok {
				return c, nil
			}
		}
		if errors.Is(err, keystore.ErrNotFound) && s.cacheOn {
			s.cacheMu.Lock()
			delete(s.aliases, name)
			s.cacheMu.Unlock()
		}
		return keystore.Alias{}, err
	}
	s.rememberAlias(a)
	return a, nil
}

// DeleteKey implements keystore.Store: SELECT … FOR UPDATE and check (when
// not nil), then the key's aliases and its row, in one transaction.
func (s *Store) DeleteKey(ctx context.Context, id string, check func(*keystore.Key) error) error {
	var checkErr error
	err := s.op(ctx, "DeleteKey", false, func(ctx context.Context) error {
		checkErr = nil
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if check != nil {
				row := tx.QueryRow(ctx, `SELECT id, record, wrapped_material, revision FROM keys WHERE id = $1 FOR UPDATE`, id)
				cur, err := scanKey(row)
				if err != nil {
					return err
				}
				if err := check(cur); err != nil {
					checkErr = err
					return errFnAborted
				}
			}
			if _, err := tx.Exec(ctx, `DELETE FROM aliases WHERE key_id = $1`, id); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `DELETE FROM keys WHERE id = $1`, id)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return pgx.ErrNoRows
			}
			return nil
		})
	})
	if checkErr != nil {
		return checkErr
	}
	s.forgetKey(id)
	return err
}

// UpdateAlias implements keystore.Store: SELECT … FOR UPDATE, fn, one
// UPDATE of the alias's row (its target a foreign key checked in the same
// statement), in one transaction, so the alias names the old key or the
// new one, never none, and fn sees the record it replaces.
func (s *Store) UpdateAlias(ctx context.Context, name string, fn func(*keystore.Alias) error) error {
	var out keystore.Alias
	var fnErr error
	err := s.op(ctx, "UpdateAlias", false, func(ctx context.Context) error {
		fnErr = nil
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var rec []byte
			if err := tx.QueryRow(ctx, `SELECT record FROM aliases WHERE name = $1 FOR UPDATE`, name).Scan(&rec); err != nil {
				return err
			}
			var cur keystore.Alias
			if err := decodeAlias(name, rec, &cur); err != nil {
				return err
			}
			a := cur.Clone()
			if err := fn(&a); err != nil {
				fnErr = err
				return errFnAborted
			}
			a.Name, a.CreatedAt = cur.Name, cur.CreatedAt
			nrec, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE aliases SET key_id = $2, record = $3::jsonb WHERE name = $1`, name, a.KeyID, string(nrec)); err != nil {
				return err
			}
			out = a
			return nil
		})
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return err
	}
	s.rememberAlias(out)
	return nil
}

// DeleteAlias implements keystore.Store.
func (s *Store) DeleteAlias(ctx context.Context, name string) error {
	err := s.op(ctx, "DeleteAlias", false, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `DELETE FROM aliases WHERE name = $1`, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return nil
	})
	if s.cacheOn {
		s.cacheMu.Lock()
		delete(s.aliases, name)
		s.cacheMu.Unlock()
	}
	return err
}

// ListAliases implements keystore.Store: every alias, ordered by name (byte
// order).
func (s *Store) ListAliases(ctx context.Context) ([]keystore.Alias, error) {
	var out []keystore.Alias
	err := s.op(ctx, "ListAliases", true, func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.pool.Query(ctx, `SELECT name, record FROM aliases ORDER BY name COLLATE "C"`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var rec []byte
			if err := rows.Scan(&name, &rec); err != nil {
				return err
			}
			var a keystore.Alias
			if err := decodeAlias(name, rec, &a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []keystore.Alias{}
	}
	return out, nil
}

// keyRecord is the JSON of k without its material, revision and ID (kept
// in their own columns).
func keyRecord(k *keystore.Key) (string, error) {
	c := *k
	c.WrappedMaterial = nil
	c.Revision = 0
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	return string(b), nil
}

// checkGrowth applies keystore.MaxKeyRecordBytes to the record rec of c
// replacing cur (whose size is computed only when rec is over the bound).
func checkGrowth(c *keystore.Key, rec string, cur *keystore.Key) error {
	size := len(rec) + len(c.WrappedMaterial)
	if size <= keystore.MaxKeyRecordBytes {
		return nil
	}
	prev, err := keyRecord(cur)
	if err != nil {
		return err
	}
	return keystore.CheckKeyRecordSize(c.ID, size, len(prev)+len(cur.WrappedMaterial))
}

func scanKey(row pgx.Row) (*keystore.Key, error) {
	var id string
	var rec, wrapped []byte
	var rev int64
	if err := row.Scan(&id, &rec, &wrapped, &rev); err != nil {
		return nil, err
	}
	var k keystore.Key
	if err := json.Unmarshal(rec, &k); err != nil {
		return nil, &keystore.CorruptError{Path: "keys/" + id, Err: err}
	}
	k.ID = id
	k.WrappedMaterial = wrapped
	k.Revision = rev
	return &k, nil
}

func decodeAlias(name string, rec []byte, a *keystore.Alias) error {
	if err := json.Unmarshal(rec, a); err != nil {
		return &keystore.CorruptError{Path: "aliases/" + name, Err: err}
	}
	if a.Name != name {
		return &keystore.CorruptError{Path: "aliases/" + name, Err: fmt.Errorf("record names alias %q", a.Name)}
	}
	return nil
}

// remember caches k as read or written now, unless the cache holds a newer
// revision of it (a read that raced this store's own update may return
// after it): the cache never goes back to an older revision. The same
// revision read again renews the entry's time.
func (s *Store) remember(k *keystore.Key) {
	if !s.cacheOn {
		return
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	now := s.clock()
	if c, ok := s.keys[k.ID]; ok && c.k.Revision >= k.Revision {
		if c.k.Revision == k.Revision {
			c.at = now
			s.keys[k.ID] = c
		}
		return
	}
	s.keys[k.ID] = cachedKey{k: k.Clone(), at: now}
}

// forgetKey drops key id and every alias naming it from the cache: the key
// is gone (deleted here, or seen absent), and so are its aliases.
func (s *Store) forgetKey(id string) {
	if !s.cacheOn {
		return
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	delete(s.keys, id)
	for name, c := range s.aliases {
		if c.a.KeyID == id {
			delete(s.aliases, name)
		}
	}
}

// rememberAlias caches a as read or written now, unless the cache holds a
// later record of the same alias (same CreatedAt, higher Seq: a read that
// raced this store's own update may return after it), as remember does
// for keys.
func (s *Store) rememberAlias(a keystore.Alias) {
	if !s.cacheOn {
		return
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if c, ok := s.aliases[a.Name]; ok && c.a.CreatedAt.Equal(a.CreatedAt) && c.a.Seq > a.Seq {
		return
	}
	s.aliases[a.Name] = cachedAlias{a: a.Clone(), at: s.clock()}
}

func (s *Store) cachedKey(id string) (*keystore.Key, bool) {
	if !s.cacheOn {
		return nil, false
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	c, ok := s.keys[id]
	if !ok || s.clock().Sub(c.at) > s.cacheAge {
		return nil, false
	}
	return c.k.Clone(), true
}

func (s *Store) cachedAlias(name string) (keystore.Alias, bool) {
	if !s.cacheOn {
		return keystore.Alias{}, false
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	c, ok := s.aliases[name]
	if !ok || s.clock().Sub(c.at) > s.cacheAge {
		return keystore.Alias{}, false
	}
	return c.a, true
}
