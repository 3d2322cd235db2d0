// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
)

func TestPostgresStore(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "root.key"), []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	head := "root_key_file: root.key\naccess_keys: [{id: AKIAX, secret: s, principal: \"arn:aws:iam::111122223333:user/x\"}]\n"
	t.Setenv("KMS_TEST_PG_URL", "postgres://u:p@db:5432/kms")
	tests := []struct {
		name, yaml, err string
		url             string
	}{
		{"url", "postgres:\n  url: postgres://u:p@h/db\n  max_conns: 4\n  operation_timeout: 2s\n  cached_reads_on_outage: true\n  cached_reads_max_age: 1m\n", "", "postgres://u:p@h/db"},
		{"url_env", "postgres: {url_env: KMS_TEST_PG_URL}\n", "", "postgres://u:p@db:5432/kms"},
		{"both urls", "postgres: {url: x, url_env: KMS_TEST_PG_URL}\n", "not both", ""},
		{"empty env", "postgres: {url_env: KMS_TEST_PG_UNSET}\n", "is empty", ""},
		{"no url", "postgres: {max_conns: 3}\n", "url or url_env is required", ""},
		{"dir and postgres", "key_store_dir: keys\npostgres: {url: x}\n", "not both", ""},
		{"no store", "", "key_store_dir (or postgres) is required", ""},
		{"unknown field", "postgres: {url: x, pool: 3}\n", "pool", ""},
		{"cached reads for over an hour", "postgres: {url: x, cached_reads_on_outage: true, cached_reads_max_age: 61m}\n", "postgres.cached_reads_max_age: 1h1m0s is more than the 1h0m0s allowed", ""},
		{"cached reads for an hour", "postgres: {url: postgres://u:p@h/db, cached_reads_on_outage: true, cached_reads_max_age: 1h}\n", "", "postgres://u:p@h/db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "c.yaml")
			os.WriteFile(p, []byte(head+tc.yaml), 0o600)
			f, err := Load(p)
			if err == nil && tc.err == "" {
				var pg *postgres.Config
				if pg, err = f.StoreConfig(); err == nil {
					if pg == nil || pg.URL != tc.url || f.StoreName() != "postgres" {
						t.Fatalf("Postgres %+v", pg)
					}
					if tc.name == "url" && (pg.MaxConns != 4 || pg.OperationTimeout != 2*time.Second ||
						!pg.CachedReadsOnOutage || pg.CachedReadsMaxAge != time.Minute) {
						t.Fatalf("Postgres options %+v", pg)
					}
				}
			} else if err == nil {
				// Every error case is refused before any connection.
				var st keystore.Store
				if st, err = f.OpenStore(context.Background()); err == nil {
					st.Close()
				}
			}
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err != "" && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want ErrConfig with %q", err, tc.err)
			}
		})
	}
}
