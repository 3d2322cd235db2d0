// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

// servingClient is an SDK client of srv's KMS listener, without retries.
func servingClient(srv *Server) *awskms.Client {
	return awskms.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: sdkhttp.New(nil),
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} }},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String("http://" + srv.Addr("kms").String()) })
}

// jsonLines parses every line of buf as a JSON object.
func jsonLines(t *testing.T, buf *syncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// waitAuditLine waits for the audit line of an op request, which the
// server writes after its operation returned (after the client may have
// gone), and returns it.
func waitAuditLine(t *testing.T, audit *syncBuffer, op string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, ev := range jsonLines(t, audit) {
			if ev["operation"] == op {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit line for %s:\n%s", op, audit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logsOf returns the log records of the request with the given ID.
func logsOf(t *testing.T, logs *syncBuffer, reqID any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range jsonLines(t, logs) {
		if l["request_id"] == reqID {
			out = append(out, l)
		}
	}
	return out
}

// waitLogsOf waits for a log record of the request with the given ID,
// which the server writes after its audit line, and returns the request's
// records.
func waitLogsOf(t *testing.T, logs *syncBuffer, reqID any) []map[string]any {
	t.Helper()
	var recs []map[string]any
	waitFor(t, "the request's log record", func() bool {
		recs = logsOf(t, logs, reqID)
		return len(recs) > 0
	})
	return recs
}

// scrape returns srv's metrics in the text format.
func scrape(srv *Server) string {
	w := httptest.NewRecorder()
	srv.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(w.Body)
	return string(b)
}

// waitFor polls cond until it holds, or fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestClientClosedRequest: a client that sends a request, waits until it
// is held in a key store call and hangs up (any network client, or the
// parent instance, can do it at will) does not raise the server's internal
// error rate. The request is audited as attempted (operation, principal,
// access key, and the key it named, even when the hang-up came while that
// key was being read) with errorCode ClientClosedRequest,
// counted under that code and logged at INFO with it; no
// KMSInternalException appears in the log, the audit line or the metrics.
func TestClientClosedRequest(t *testing.T) {
	hs := newHungStore(t)
	logs, audit := &syncBuffer{}, &syncBuffer{}
	srv, _ := newServing(t, func(c *Config) {
		c.Store = hs
		c.AuditLog = audit
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		// Far beyond the test: only the client's hang-up ends the call.
		c.RequestTimeout = 25 * time.Second
	})
	t.Cleanup(hs.unblock)
	client := servingClient(srv)
	ck, err := client.CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := ck.KeyMetadata.KeyId
	if _, err := client.CreateAlias(context.Background(), &awskms.CreateAliasInput{AliasName: aws.String("alias/hung"), TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	enc, err := client.Encrypt(context.Background(), &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		op   string
		hang *atomic.Bool
		call func(ctx context.Context) error
	}{
		// Hung in GetKey: the key is named (by ID, by alias, by the
		// ciphertext blob) but not yet read.
		{"GenerateDataKey", &hs.hangGet, func(ctx context.Context) error {
			_, err := client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256})
			return err
		}},
		{"GenerateDataKeyWithoutPlaintext", &hs.hangGet, func(ctx context.Context) error {
			_, err := client.GenerateDataKeyWithoutPlaintext(ctx, &awskms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String("alias/hung"), KeySpec: types.DataKeySpecAes256})
			return err
		}},
		{"Decrypt", &hs.hangGet, func(ctx context.Context) error {
			_, err := client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
			return err
		}},
		{"DisableKey", &hs.hangUpdate, func(ctx context.Context) error { // GetKey answers, UpdateKey hangs
			_, err := client.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: id})
			return err
		}},
	} {
		t.Run(tc.op, func(t *testing.T) {
			tc.hang.Store(true)
			defer tc.hang.Store(false)
			before := hs.hung.Load()
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- tc.call(ctx) }()
			waitFor(t, "the request to reach the store", func() bool { return hs.hung.Load() > before })
			cancel() // the client hangs up: its transport closes the connection
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Fatalf("client: %v, want its own cancellation", err)
			}

			ev := waitAuditLine(t, audit, tc.op)
			if ev["errorCode"] != CodeClientClosedRequest || ev["decision"] != "error" {
				t.Errorf("audit line: errorCode %v, decision %v; want %s, error", ev["errorCode"], ev["decision"], CodeClientClosedRequest)
			}
			if ev["principal"] != testPrincipal || ev["accessKeyId"] != testAKID || ev["requestId"] == nil {
				t.Errorf("audit line does not name the caller: %v", ev)
			}
			if wantARN := srv.keyARN(*id); ev["keyArn"] != wantARN {
				t.Errorf("audit line: keyArn %v, want %s", ev["keyArn"], wantARN)
			}

			recs := waitLogsOf(t, logs, ev["requestId"])
			if len(recs) != 1 {
				t.Fatalf("%d log records for the request, want 1:\n%s", len(recs), logs)
			}
			if r := recs[0]; r["level"] != "INFO" || r["code"] != CodeClientClosedRequest || r["operation"] != tc.op {
				t.Errorf("log record %v, want level INFO, code %s, operation %s", r, CodeClientClosedRequest, tc.op)
			}

			m := scrape(srv)
			if want := fmt.Sprintf(`kms_requests_total{code=%q,operation=%q} 1`, CodeClientClosedRequest, tc.op); !strings.Contains(m, want) {
				t.Errorf("/metrics lacks %s", want)
			}
			if bad := fmt.Sprintf(`kms_requests_total{code=%q,operation=%q}`, CodeInternal, tc.op); strings.Contains(m, bad) {
				t.Errorf("/metrics counts the hang-up as %s", CodeInternal)
			}
		})
	}
	if strings.Contains(audit.String(), CodeInternal) || strings.Contains(logs.String(), "ERROR") {
		t.Errorf("a hang-up was recorded as an error:\naudit:\n%s\nlog:\n%s", audit, logs)
	}
}

// failingStore fails GetKey with an error of its own (a bug, a corrupt
// disk) while broken: a genuine internal error.
type failingStore struct {
	*hungStore
	broken atomic.Bool
}

var errDiskOnFire = errors.New("failingStore: disk on fire")

func (b *failingStore) GetKey(ctx context.Context, id string) (*keystore.Key, error) {
	if b.broken.Load() {
		return nil, errDiskOnFire
	}
	return b.hungStore.GetKey(ctx, id)
}

// TestRequestOutcomes: the failures beside a client's hang-up keep their
// own outcome in the audit line, the log (at ERROR, with the code) and the
// metrics: the request's deadline (Config.RequestTimeout) is a
// DependencyTimeoutException; a store's own error and a request that
// Serve cuts at the end of its shutdown timeout (the server closed the
// connection, not the client) are KMSInternalException, never
// ClientClosedRequest.
func TestRequestOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mod      func(*Config)
		run      func(t *testing.T, fs *failingStore, stop func() error, call func(context.Context) error)
		code     string
		logError string // in the log record's error
	}{
		{
			name: "deadline",
			mod:  func(c *Config) { c.RequestTimeout = 200 * time.Millisecond },
			run: func(t *testing.T, fs *failingStore, _ func() error, call func(context.Context) error) {
				fs.hangGet.Store(true)
				wantCode(t, call(context.Background()), CodeDependencyTimeout)
			},
			code: CodeDependencyTimeout, logError: context.DeadlineExceeded.Error(),
		},
		{
			name: "store error",
			run: func(t *testing.T, fs *failingStore, _ func() error, call func(context.Context) error) {
				fs.broken.Store(true)
				wantCode(t, call(context.Background()), CodeInternal)
			},
			code: CodeInternal, logError: errDiskOnFire.Error(),
		},
		{
			name: "cut at shutdown",
			mod:  func(c *Config) { c.ShutdownTimeout = 200 * time.Millisecond; c.RequestTimeout = 25 * time.Second },
			run: func(t *testing.T, fs *failingStore, stop func() error, call func(context.Context) error) {
				fs.hangGet.Store(true)
				errc := make(chan error, 1)
				go func() { errc <- call(context.Background()) }()
				waitFor(t, "the request to reach the store", func() bool { return fs.hung.Load() > 0 })
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				if err := <-errc; err == nil {
					t.Fatal("the cut request succeeded")
				}
			},
			code: CodeInternal, logError: errShutdownCut.Error(),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := &failingStore{hungStore: newHungStore(t)}
			logs, audit := &syncBuffer{}, &syncBuffer{}
			srv, stop := newServing(t, func(c *Config) {
				c.Store = fs
				c.AuditLog = audit
				c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
				if tc.mod != nil {
					tc.mod(c)
				}
			})
			t.Cleanup(fs.unblock)
			client := servingClient(srv)
			ck, err := client.CreateKey(context.Background(), &awskms.CreateKeyInput{})
			if err != nil {
				t.Fatal(err)
			}
			tc.run(t, fs, stop, func(ctx context.Context) error {
				_, err := client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: ck.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256})
				return err
			})

			ev := waitAuditLine(t, audit, "GenerateDataKey")
			if ev["errorCode"] != tc.code || ev["decision"] != "error" || ev["principal"] != testPrincipal {
				t.Errorf("audit line %v, want errorCode %s, decision error, principal %s", ev, tc.code, testPrincipal)
			}
			recs := waitLogsOf(t, logs, ev["requestId"])
			if len(recs) != 1 {
				t.Fatalf("%d log records for the request, want 1:\n%s", len(recs), logs)
			}
			if r := recs[0]; r["level"] != "ERROR" || r["code"] != tc.code || !strings.Contains(fmt.Sprint(r["error"]), tc.logError) {
				t.Errorf("log record %v, want level ERROR, code %s, error naming %q", r, tc.code, tc.logError)
			}
			m := scrape(srv)
			if want := fmt.Sprintf(`kms_requests_total{code=%q,operation="GenerateDataKey"} 1`, tc.code); !strings.Contains(m, want) {
				t.Errorf("/metrics lacks %s", want)
			}
			if strings.Contains(m, CodeClientClosedRequest) || strings.Contains(audit.String(), CodeClientClosedRequest) {
				t.Errorf("recorded as %s", CodeClientClosedRequest)
			}
		})
	}
}

// TestCanceled: how canceled classifies a failed request by its error and
// by who canceled the request's context.
func TestCanceled(t *testing.T) {
	live := context.Background()
	byClient, cancel := context.WithCancel(live) // as net/http when the connection closes
	cancel()
	cut, cutCancel := context.WithCancelCause(live)
	cutCancel(errShutdownCut)
	late, lateCancel := context.WithTimeout(live, -time.Second)
	defer lateCancel()
	wrapped := fmt.Errorf("postgres: GetKey: %w", context.Canceled) // as keystore/postgres reports its caller's cancellation
	notFound := apiErr(CodeNotFound, "no such key")

	for _, tc := range []struct {
		name      string
		ctx       context.Context
		err       error
		code      string // "" for err returned as it is
		wantCause error  // wrapped beside err, when code is ""
	}{
		{"client hung up in a store call", byClient, context.Canceled, CodeClientClosedRequest, nil},
		{"client hung up, store's wrapped error", byClient, wrapped, CodeClientClosedRequest, nil},
		{"client hung up, the operation's own answer", byClient, notFound, "", nil},
		{"client hung up, a genuine internal error", byClient, errDiskOnFire, "", nil},
		{"client hung up after the deadline", byClient, context.DeadlineExceeded, "", nil},
		{"server cut at shutdown", cut, context.Canceled, "", errShutdownCut},
		{"server cut at shutdown, wrapped", cut, wrapped, "", errShutdownCut},
		{"canceled while the request lives", live, context.Canceled, "", nil},
		{"request context past its deadline", late, context.Canceled, "", context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := canceled(tc.ctx, tc.err)
			var ae *APIError
			switch {
			case tc.code != "":
				if !errors.As(got, &ae) || ae.Code != tc.code || ae.Status != 499 {
					t.Fatalf("canceled: %v, want an APIError %s with status 499", got, tc.code)
				}
			case tc.wantCause != nil:
				if !errors.Is(got, tc.err) || !errors.Is(got, tc.wantCause) {
					t.Fatalf("canceled: %v, want %v with %v", got, tc.err, tc.wantCause)
				}
			default:
				if got != tc.err {
					t.Fatalf("canceled: %v, want %v unchanged", got, tc.err)
				}
			}
			if tc.code == "" {
				// What the client is told, and what is counted: never the
				// hang-up's code.
				w := httptest.NewRecorder()
				if code := writeError(w, got); code == CodeClientClosedRequest {
					t.Fatalf("writeError: %s", code)
				}
			}
		})
	}
}
