// SPDX-License-Identifier: Apache-2.0

// Package pgtest gives tests a private PostgreSQL schema on the test server
// named by ENCLAVEKIT_TEST_POSTGRES_URL (scripts/pg-test-env.sh starts one
// on loopback and prints the variable).
//
// Without the variable tests are skipped with a reason, except under CI
// (CI set), where they fail: CI must run them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the connection URL of the test server.
const EnvVar = "ENCLAVEKIT_TEST_POSTGRES_URL"

// BaseURL returns the URL of the test server, skipping the test when it is
// not configured (failing it under CI).
func BaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set under CI; run scripts/pg-test-env.sh start (.ci/run does)", EnvVar)
		}
		t.Skipf("%s not set: no PostgreSQL for this test (eval \"$(scripts/pg-test-env.sh start)\")", EnvVar)
	}
	return u
}

// URL creates a fresh schema on the test server, dropped when the test
// ends, and returns a connection URL whose search_path is that schema, so
// every store opened with it sees only its own tables.
func URL(t testing.TB) string {
	t.Helper()
	base := BaseURL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	Exec(t, base, `CREATE SCHEMA `+schema)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Logf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return WithParam(t, base, "search_path", schema)
}

// WithParam returns connURL with the query parameter name set to value.
func WithParam(t testing.TB, connURL, name, value string) string {
	t.Helper()
	u, err := url.Parse(connURL)
	if err != nil {
		t.Fatalf("pgtest: %s is not a URL: %v", EnvVar, err)
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs one statement on a fresh connection to connURL.
func Exec(t testing.TB, connURL, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, connURL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}
