// SPDX-License-Identifier: Apache-2.0

// Package keystore defines the storage interface behind the kms-server
// ([github.com/enclavekit/enclavekit/host/kms]) and its embedded default
// backend, a directory on local disk ([OpenDir]).
//
// # The interface
//
// [Store] is deliberately small so that other backends (the PostgreSQL
// backend for several replicas, package keystore/postgres) can implement it
// with one table for keys and one for aliases. Every method is atomic on its
// own;
// [Store.UpdateKey] is the one read-modify-write primitive and must run its
// function inside a transaction (row lock) so concurrent updates of one key
// serialise. Package keystore/storetest is the conformance suite every
// backend passes. A backend whose service can be unreachable reports it
// with [ErrUnavailable].
//
// A backend never sees key material in the clear: [Key.WrappedMaterial] is
// sealed by the server under the operator's root key before it reaches the
// store, and stored as opaque bytes.
//
// # The directory backend
//
// [OpenDir] keeps one JSON file per key under keys/ and the alias table in
// aliases.json. Every write goes to a temporary file that is fsynced, renamed
// over the target and followed by an fsync of the directory, so a crash at
// any moment leaves either the old or the new version of a file, never a
// torn one, and a write that returned has reached the disk. The directory is
// locked with flock(2) on a LOCK file: a second process opening the same
// directory gets [ErrLocked]. All records are held in memory too (the
// process holds the lock, so nobody else writes), which makes reads free.
//
// Every backend refuses a key record over [MaxKeyRecordBytes] (unless it
// is no larger than the record it replaces) with a [*TooLargeError], and
// the directory backend an alias table over 16 MiB, so a record written is
// a record that reads back: OpenDir refuses a key record over 16 MiB and
// an alias table over 64 MiB, failing for the whole store (see the
// comment on the bounds in dir.go for why it does not set one aside).
package keystore
