// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/postgres"
	"github.com/enclavekit/enclavekit/internal/pgtest"
)

// The server's test suite runs once per key store backend: the directory
// store, then PostgreSQL (a fresh schema per test server) when
// ENCLAVEKIT_TEST_POSTGRES_URL names a test database. Without it the
// PostgreSQL run is skipped, except under CI where that is a failure.
// ENCLAVEKIT_KMS_TEST_BACKENDS=dir (or =postgres) runs one of them only.
const (
	backendDir      = "dir"
	backendPostgres = "postgres"
)

// testBackend is the backend newEnv uses; set by TestMain between runs.
var testBackend = backendDir

func TestMain(m *testing.M) {
	flag.Parse()
	backends := []string{backendDir, backendPostgres}
	if v := os.Getenv("ENCLAVEKIT_KMS_TEST_BACKENDS"); v != "" {
		backends = strings.Split(v, ",")
	}
	code := 0
	for _, b := range backends {
		switch b {
		case backendDir:
		case backendPostgres:
			if os.Getenv(pgtest.EnvVar) == "" {
				if os.Getenv("CI") != "" {
					fmt.Fprintf(os.Stderr, "host/kms: %s is not set under CI: the PostgreSQL run of the suite cannot run\n", pgtest.EnvVar)
					code = 1
					continue
				}
				fmt.Printf("host/kms: skipping the PostgreSQL run of the suite: %s not set (eval \"$(scripts/pg-test-env.sh start)\")\n", pgtest.EnvVar)
				continue
			}
		default:
			fmt.Fprintf(os.Stderr, "host/kms: unknown backend %q in ENCLAVEKIT_KMS_TEST_BACKENDS\n", b)
			os.Exit(2)
		}
		testBackend = b
		if testing.Verbose() || len(backends) > 1 {
			fmt.Printf("=== key store backend: %s\n", b)
		}
		if c := m.Run(); c != 0 {
			code = c
		}
	}
	os.Exit(code)
}

// TestBackendNoPlaintextInDatabase: with PostgreSQL, the database holds
// only the wrapped material: no row contains a key's plaintext material,
// and a record made under one root key is unusable under another.
func TestBackendNoPlaintextInDatabase(t *testing.T) {
	if testBackend != backendPostgres {
		t.Skip("PostgreSQL backend only")
	}
	env := newEnv(t, nil)
	ctx := context.Background()
	id := env.createKey(t)
	blob := env.encrypt(t, id, []byte("secret payload"), nil)
	k, err := env.srv.store.GetKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	m, err := env.srv.material(k)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Raw) != 32 {
		t.Fatalf("material of %d bytes", len(m.Raw))
	}
	c, err := pgx.Connect(ctx, env.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var dump []byte
	if err := c.QueryRow(ctx, `SELECT convert_to(k::text, 'UTF8') || wrapped_material FROM keys k WHERE id = $1`, id).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(dump, m.Raw) || bytes.Contains(dump, []byte(fmt.Sprintf("%x", m.Raw))) {
		t.Fatal("the database row holds the plaintext key material")
	}
	// A replica with another root key cannot use the shared record.
	other := newEnv(t, func(c *Config) {
		c.Store = openPostgres(t, &postgres.Config{URL: env.dbURL})
		c.RootKey = bytes.Repeat([]byte{8}, 32)
	})
	_, err = other.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, CodeInternal)
	// The same root key on another replica decrypts.
	same := newEnv(t, func(c *Config) { c.Store = openPostgres(t, &postgres.Config{URL: env.dbURL}) })
	out, err := same.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, KeyId: aws.String(id)})
	if err != nil || string(out.Plaintext) != "secret payload" {
		t.Fatalf("second replica: %v", err)
	}
}

// TestBackendDatabaseOutage: while PostgreSQL is unreachable every request
// fails with DependencyTimeoutException (retryable, 503), unless the
// operator allowed cached reads, which keep Decrypt and GenerateDataKey
// working for keys this replica has read (and nothing else); when the
// database returns the server recovers without a restart.
func TestBackendDatabaseOutage(t *testing.T) {
	if testBackend != backendPostgres {
		t.Skip("PostgreSQL backend only")
	}
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached_reads=%v", cached), func(t *testing.T) {
			u := pgtest.URL(t)
			p := pgtest.NewProxy(t, u)
			var store *postgres.Store
			env := newEnv(t, func(c *Config) {
				// The outage's calls fail at once on cut or refused
				// connections, not on the timeout: a short one would only
				// fail the calls after recovery on a loaded machine.
				store = openPostgres(t, &postgres.Config{URL: p.URL(t, u), OperationTimeout: 30 * time.Second, CachedReadsOnOutage: cached})
				c.Store = store
			})
			ctx := context.Background()
			id := env.createKey(t)
			blob := env.encrypt(t, id, []byte("during outage"), nil)
			p.SetDown(true)

			_, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
			wantCode(t, err, CodeDependencyTimeout)
			_, err = env.client.CreateKey(ctx, &awskms.CreateKeyInput{})
			wantCode(t, err, CodeDependencyTimeout)
			_, err = env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
			wantCode(t, err, CodeDependencyTimeout)
			out, err := env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
			if cached {
				if err != nil || string(out.Plaintext) != "during outage" {
					t.Fatalf("Decrypt from the cache during the outage: %v", err)
				}
				if _, err := env.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(32)}); err != nil {
					t.Fatalf("GenerateDataKey from the cache during the outage: %v", err)
				}
			} else {
				wantCode(t, err, CodeDependencyTimeout)
				_, err = env.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(32)})
				wantCode(t, err, CodeDependencyTimeout)
			}
			if err := env.srv.Healthy(ctx); !errors.Is(err, keystore.ErrUnavailable) {
				t.Fatalf("Healthy during the outage: %v", err)
			}

			p.SetDown(false)
			// Recovery is the pool's: a call fails only on a connection cut
			// during the outage and still idle (each failing call drops at
			// least one), so one call more than the pool can hold succeeds.
			for attempt := int32(0); ; attempt++ {
				_, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
				if err == nil {
					break
				}
				if max := store.Pool().Config().MaxConns; attempt >= max {
					t.Fatalf("no recovery after the database returned (%d calls, the pool holds at most %d connections): %v", attempt+1, max, err)
				}
			}
			if pt := env.decrypt(t, blob, nil); string(pt) != "during outage" {
				t.Fatal("Decrypt after recovery")
			}
		})
	}
}
