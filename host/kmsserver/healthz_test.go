// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

// brokenStore fails every key read with an error that names where the
// store is (as a database driver's connection error does).
type brokenStore struct{ *keystore.Dir }

func (brokenStore) GetKey(context.Context, string) (*keystore.Key, error) {
	return nil, fmt.Errorf("failed to connect to `host=10.9.8.7 user=kms database=keys`: %w", keystore.ErrUnavailable)
}

// TestHealthzHidesStoreError: /healthz answers anyone who reaches the
// metrics listener, without authentication, so an unhealthy answer says
// only that the key store does not answer; the store's error, which can
// name the database's address, user and database, goes to the log.
func TestHealthzHidesStoreError(t *testing.T) {
	d, err := keystore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var logs bytes.Buffer
	env := newEnv(t, func(c *Config) {
		c.Store = brokenStore{d}
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ts := httptest.NewServer(env.srv.AdminHandler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(string(body), "unhealthy: ") {
		t.Fatalf("/healthz with the store down: %d %q", resp.StatusCode, body)
	}
	for _, s := range []string{"10.9.8.7", "user=kms", "database=keys"} {
		if strings.Contains(string(body), s) {
			t.Errorf("/healthz shows the store's error (%s) to an unauthenticated caller: %q", s, body)
		}
	}
	if !strings.Contains(logs.String(), "10.9.8.7") {
		t.Errorf("the store's error is not logged: %q", logs.String())
	}
}
