// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationLockID is the advisory lock held while migrating (any value
// unlikely to collide with an application's own locks).
const migrationLockID int64 = 0x656e636c_6b6d7301 // "enclkms\x01"

// migrations are applied in order; never edit one that was released, add a
// new one.
var migrations = []struct {
	version     int
	description string
	sql         string
}{
	{1, "keys and aliases", `
CREATE TABLE keys (
	id               text PRIMARY KEY,
	state            text NOT NULL,
	record           jsonb NOT NULL,
	wrapped_material bytea NOT NULL,
	revision         bigint NOT NULL CHECK (revision > 0)
);
CREATE TABLE aliases (
	name   text PRIMARY KEY,
	key_id text NOT NULL REFERENCES keys (id),
	record jsonb NOT NULL
);
CREATE INDEX aliases_key_id ON aliases (key_id);
`},
}

// SchemaVersion is the schema version this release migrates to.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// migrate brings the schema in the current search_path to SchemaVersion,
// in one transaction under a transaction-scoped advisory lock so that
// replicas starting together apply every migration once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version     integer PRIMARY KEY,
	description text NOT NULL,
	applied_at  timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
			return err
		}
		if cur > SchemaVersion() {
			return fmt.Errorf("%w (database at version %d, this release knows %d)", ErrSchemaTooNew, cur, SchemaVersion())
		}
		for _, m := range migrations {
			if m.version <= cur {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.description, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, description) VALUES ($1, $2)`, m.version, m.description); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		return nil
	}
	if connectionError(err) {
		return &UnavailableError{Op: "Open", Err: err}
	}
	return fmt.Errorf("postgres: schema migration: %w", err)
}
