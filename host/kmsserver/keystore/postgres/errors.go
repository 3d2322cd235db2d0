// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// ErrSchemaTooNew reports a database migrated by a newer release than the
// running one; upgrade this replica (or roll the database back).
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this kms-server")

// PostgreSQL error codes the store maps to keystore sentinels.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

// UnavailableError reports a database that could not be reached or did not
// answer in time. It matches keystore.ErrUnavailable.
type UnavailableError struct {
	Op  string // the Store method, e.g. "GetKey"
	Err error  // the driver's error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("postgres: %s: database unavailable: %v", e.Op, e.Err)
}

// Unwrap returns the driver's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is matches keystore.ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == keystore.ErrUnavailable }

// classify maps a driver error to the keystore sentinels.
func (s *Store) classify(ctx context.Context, op string, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, keystore.ErrCorrupt):
		return err
	case errors.Is(err, pgx.ErrNoRows):
		return keystore.ErrNotFound
	case errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation:
		return keystore.ErrExists
	case errors.As(err, &pgErr) && pgErr.Code == codeForeignKeyViolation:
		return keystore.ErrNotFound
	case s.closed.Load():
		return keystore.ErrClosed
	case errors.Is(err, context.Canceled) && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The caller went away; not the database's fault.
		return fmt.Errorf("postgres: %s: %w", op, err)
	case connectionError(err):
		return &UnavailableError{Op: op, Err: err}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// connectionError reports errors that say the database is not (or no
// longer) reachable, as opposed to errors in a statement.
func connectionError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection_exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // admin/crash shutdown, cannot connect now
			return true
		case pgErr.Code == "53300": // too_many_connections
			return true
		case pgErr.Code == "40001", pgErr.Code == "40P01": // serialization failure, deadlock: transient
			return true
		}
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "conn closed")
}

// retryable reports whether an attempt may be repeated: reads after any
// connection failure, writes only when nothing reached the server (or the
// server refused the transaction as a whole).
func retryable(err error, read bool) bool {
	if errors.Is(err, errFnAborted) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// The transaction was rolled back by the server: safe to repeat.
		return pgErr.Code == "40001" || pgErr.Code == "40P01" || (read && connectionError(err))
	}
	return read && connectionError(err)
}

func hasParam(connString, name string) bool {
	if u, err := url.Parse(connString); err == nil && u.Scheme != "" {
		return u.Query().Has(name)
	}
	return strings.Contains(connString, name+"=")
}
