// SPDX-License-Identifier: Apache-2.0

// Package flock takes an exclusive advisory lock (flock(2)) on a lock
// file, for processes that share a state directory: the emulator's PCR
// bank and its root CA.
//
// The lock belongs to the open file description, so two lockers in one
// process (each calling [Lock]) exclude each other as two processes do.
// Where flock does not exist (Windows), [Lock] does nothing: a state
// directory is then safe for one process at a time only.
package flock
