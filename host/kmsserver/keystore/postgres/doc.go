// SPDX-License-Identifier: Apache-2.0

// Package postgres is the PostgreSQL backend of the kms-server key store
// ([github.com/enclavekit/enclavekit/host/kmsserver/keystore.Store]), for several
// kms-server replicas that share their keys through one database.
//
// # Schema and migrations
//
// [Open] creates and migrates the schema before it returns. Migrations are
// numbered; the applied ones are recorded in the table schema_migrations,
// and the whole migration runs in one transaction that first takes a
// transaction-scoped advisory lock (pg_advisory_xact_lock), so replicas
// starting at the same moment apply each migration exactly once. A database
// whose schema is newer than the running binary is refused
// ([ErrSchemaTooNew]). Tables are created in the connection's current
// schema (search_path), so one database can hold several stores.
//
// The keys table holds one row per key: the record as JSON (every field of
// [keystore.Key] but the material, kept verbatim including nanosecond
// times), the wrapped material as bytea, the state and the revision. The
// aliases table has the alias name as primary key and a foreign key to
// keys, so alias uniqueness and "the target key exists" are enforced by the
// database, also between replicas.
//
// # Guarantees
//
// Every method is one statement or one transaction, committed before it
// returns; sessions run with synchronous_commit=on whatever the server's
// default, so an acknowledged write has reached the database's WAL on disk.
// [Store.UpdateKey] reads the row with SELECT … FOR UPDATE and writes it in
// the same transaction, so concurrent updates of one key, from any replica,
// serialise and none is lost.
//
// Nothing is cached by default: every read goes to the database, so a
// change made through one replica (DisableKey, a new policy, a scheduled
// deletion) is seen by every replica on its next request.
//
// The database never sees key material in the clear: the kms-server seals
// [keystore.Key.WrappedMaterial] under the operator's root key before it
// reaches the store.
//
// # Outages
//
// When the database cannot be reached or does not answer within
// [Config.OperationTimeout], methods fail with an error matching
// [keystore.ErrUnavailable]; the pool reconnects by itself when the
// database returns. Reads are retried once on a fresh connection first;
// writes only when the failure happened before anything was sent.
// With [Config.CachedReadsOnOutage] (off by default) the store keeps the
// keys and aliases it has read and, during an outage, answers GetKey and
// GetAlias from them for requests marked with [keystore.WithCachedReads]
// (the kms-server marks Decrypt and GenerateDataKey), for at most
// [Config.CachedReadsMaxAge] (at most an hour) after the store last read
// the record: the window starts at that read, not at the outage's start.
// That trades consistency for availability: a key disabled through another
// replica after that read (before or during the outage) stays usable on
// this replica until the database is back or the window ends. The cache
// keeps the newest revision of a key it has seen, and forgets a key or
// alias the database answered as absent (with a key, its aliases).
package postgres
