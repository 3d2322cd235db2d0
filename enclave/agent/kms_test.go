// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/enclave/emulator"
	"github.com/enclavekit/enclavekit/recipient"
)

// fakeKMS answers GenerateDataKey like KMS does with Recipient (sealing to
// the document's public key) or, in the modes that must fail, wrongly.
type fakeKMS struct {
	t        testing.TB
	mode     string // "sealed", "plaintext", "missing", "garbage", "short"
	roots    []*x509Cert
	authKeys atomic.Value
	calls    atomic.Int32
	lastKey  atomic.Value // string: the public key of the last request's document
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	f.authKeys.Store(r.Header.Get("Authorization"))
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Recipient *struct{ AttestationDocument []byte }
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Recipient == nil {
		http.Error(w, `{"__type":"ValidationException","message":"no Recipient"}`, 400)
		return
	}
	doc, err := attestation.Verify(req.Recipient.AttestationDocument, attestation.Options{Roots: f.roots, AllowDebugUnsafe: true})
	if err != nil || doc.PublicKey == nil {
		http.Error(w, `{"__type":"ValidationException","message":"bad document"}`, 400)
		return
	}
	f.lastKey.Store(string(doc.PublicKey))
	key := bytes.Repeat([]byte{0x42}, 32)
	resp := map[string]any{"KeyId": "arn:aws:kms:us-east-1:111122223333:key/fake", "CiphertextBlob": []byte("blob")}
	switch f.mode {
	case "sealed", "plaintext", "short", "plaintext-lower":
		if f.mode == "short" {
			key = key[:1]
		}
		cfr, err := recipient.Seal(doc.PublicKey, key, rand.Reader)
		if err != nil {
			f.t.Errorf("Seal: %v", err)
		}
		resp["CiphertextForRecipient"] = cfr
		if f.mode == "plaintext" {
			resp["Plaintext"] = key
		}
		if f.mode == "plaintext-lower" {
			// A member only a case-insensitive decoder takes for
			// Plaintext: the parent's own key.
			resp["plaintext"] = bytes.Repeat([]byte{0x66}, 32)
		}
	case "garbage":
		resp["CiphertextForRecipient"] = []byte("not CMS")
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(resp)
}

func serveOn(t testing.TB, ln net.Listener, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// newFakeClient starts a fakeKMS in mode on loopback and returns it with a
// client that talks to it (closed when the test ends).
func newFakeClient(t testing.TB, e *emulator.Emulator, mode string) (*fakeKMS, *Client) {
	t.Helper()
	f := &fakeKMS{t: t, mode: mode, roots: []*x509Cert{e.Root()}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, ln, f)
	c, err := New(&Config{
		NSM: e, Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true, Proxy: "tcp://" + ln.Addr().String(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return f, c
}

func TestClientFailsClosed(t *testing.T) {
	e := newEmulator(t)
	for _, tc := range []struct {
		mode string
		want error
	}{
		{"sealed", nil},
		{"plaintext", ErrPlaintextInResponse},
		{"missing", ErrNoCiphertextForRecipient},
		{"garbage", ErrRecipientOpen},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			f, c := newFakeClient(t, e, tc.mode)
			dk, err := c.GenerateDataKey(context.Background(), &kms.GenerateDataKeyInput{KeyId: aws.String("alias/x"), KeySpec: "AES_256"})
			if tc.want == nil {
				if err != nil || !bytes.Equal(dk.Plaintext, bytes.Repeat([]byte{0x42}, 32)) || string(dk.CiphertextBlob) != "blob" {
					t.Fatalf("GenerateDataKey: %+v, %v", dk, err)
				}
				if a, _ := f.authKeys.Load().(string); !strings.Contains(a, "Credential=AKIDTEST/") {
					t.Fatalf("request not SigV4-signed with the credentials: %q", a)
				}
				return
			}
			if !errors.Is(err, tc.want) || dk != nil {
				t.Fatalf("GenerateDataKey: %+v, %v; want %v", dk, err, tc.want)
			}
		})
	}
}

// TestFailedOpenKeepsKey checks that an envelope that does not open, or
// opens to a data key of the wrong length, changes nothing a relaying
// parent can see: the next request carries the same recipient key, as after
// a successful one (see TestNoPaddingOracle for the attack this prevents).
func TestFailedOpenKeepsKey(t *testing.T) {
	e := newEmulator(t)
	for _, tc := range []struct {
		mode    string
		wantErr error
	}{
		{"sealed", nil},
		{"garbage", ErrRecipientOpen},
		{"short", ErrRecipientOpen},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			f, c := newFakeClient(t, e, tc.mode)
			var keys []string
			for range 2 {
				dk, err := c.GenerateDataKey(context.Background(), &kms.GenerateDataKeyInput{KeyId: aws.String("alias/x"), KeySpec: "AES_256"})
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (dk != nil) {
					t.Fatalf("GenerateDataKey: %v; want %v", err, tc.wantErr)
				}
				k, _ := f.lastKey.Load().(string)
				keys = append(keys, k)
			}
			if keys[0] == "" || keys[0] != keys[1] {
				t.Fatal("the recipient key changed after a response")
			}
		})
	}
}

// TestPlaintextSizeChecked: a data key or random bytes of another length
// than asked for are refused like an envelope that does not open.
func TestPlaintextSizeChecked(t *testing.T) {
	e := newEmulator(t)
	_, c := newFakeClient(t, e, "sealed") // always seals 32 bytes
	ctx := context.Background()
	for name, in := range map[string]*kms.GenerateDataKeyInput{
		"AES_128":          {KeyId: aws.String("k"), KeySpec: "AES_128"},
		"NumberOfBytes 64": {KeyId: aws.String("k"), NumberOfBytes: aws.Int32(64)},
		"neither":          {KeyId: aws.String("k")},
		"both":             {KeyId: aws.String("k"), KeySpec: "AES_256", NumberOfBytes: aws.Int32(32)},
		"unknown spec":     {KeyId: aws.String("k"), KeySpec: "AES_512"},
	} {
		if dk, err := c.GenerateDataKey(ctx, in); !errors.Is(err, ErrRecipientOpen) || dk != nil {
			t.Errorf("GenerateDataKey %s answered with 32 bytes: %v, want ErrRecipientOpen", name, err)
		}
	}
	if dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("k"), NumberOfBytes: aws.Int32(32)}); err != nil || len(dk.Plaintext) != 32 {
		t.Fatalf("NumberOfBytes 32: %v", err)
	}
	if r, err := c.GenerateRandom(ctx, 16); !errors.Is(err, ErrRecipientOpen) || r != nil {
		t.Errorf("GenerateRandom(16) answered with 32 bytes: %v", err)
	}
	if r, err := c.GenerateRandom(ctx, 32); err != nil || len(r) != 32 {
		t.Errorf("GenerateRandom(32): %v", err)
	}
	if kp, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: aws.String("k"), KeyPairSpec: "ECC_NIST_P256"}); !errors.Is(err, ErrRecipientOpen) || kp != nil {
		t.Errorf("GenerateDataKeyPair answered with 32 random bytes: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	e := newEmulator(t)
	creds := credentials.NewStaticCredentialsProvider("a", "b", "")
	for name, cfg := range map[string]*Config{
		"nil":          nil,
		"no NSM":       {Region: "us-east-1", Credentials: creds},
		"no region":    {NSM: e, Credentials: creds},
		"no creds":     {NSM: e, Region: "us-east-1"},
		"bad endpoint": {NSM: e, Region: "us-east-1", Credentials: creds, Endpoint: "ftp://x"},
		"path":         {NSM: e, Region: "us-east-1", Credentials: creds, Endpoint: "http://x/kms", InsecureHTTPUnsafe: true},
		"plain http":   {NSM: e, Region: "us-east-1", Credentials: creds, Endpoint: "http://x"},
		"bad proxy":    {NSM: e, Region: "us-east-1", Credentials: creds, Proxy: "vsock://3"},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// credServer serves credentials like the host's endpoint, counting fetches.
func credServer(t *testing.T, expires func() time.Time) (addr string, fetches *atomic.Int32) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "creds.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	fetches = new(atomic.Int32)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DefaultCredentialsPath, func(w http.ResponseWriter, r *http.Request) {
		n := fetches.Add(1)
		fmt.Fprintf(w, `{"AccessKeyId":"AKIDHOST%d","SecretAccessKey":"s","Token":"tok","Expiration":%q}`, n, expires().UTC().Format(time.RFC3339))
	})
	serveOn(t, ln, mux)
	return "unix://" + sock, fetches
}

func TestEndpointCredentials(t *testing.T) {
	addr, fetches := credServer(t, func() time.Time { return time.Now().Add(time.Hour) })
	p := &EndpointCredentials{Addr: addr}
	c, err := p.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIDHOST1" || c.SessionToken != "tok" || !c.CanExpire || time.Until(c.Expires) < 50*time.Minute {
		t.Fatalf("Retrieve: %+v, %v", c, err)
	}
	if fetches.Load() != 1 {
		t.Fatal("fetch count")
	}
	for name, p := range map[string]*EndpointCredentials{
		"bad addr":  {Addr: "http://x"},
		"bad path":  {Addr: addr, Path: "creds"},
		"not found": {Addr: addr, Path: "/nope"},
		"no server": {Addr: "unix:///nonexistent/enclavekit.sock"},
	} {
		if _, err := p.Retrieve(context.Background()); !errors.Is(err, ErrCredentials) {
			t.Errorf("%s: %v, want ErrCredentials", name, err)
		}
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "x", "AWS_SESSION_TOKEN": "t"}
	ec, err := EnvCredentials{Getenv: func(k string) string { return env[k] }}.Retrieve(context.Background())
	if err != nil || ec.AccessKeyID != "AKIDENV" || ec.SessionToken != "t" {
		t.Fatalf("EnvCredentials: %+v %v", ec, err)
	}
	if _, err := (EnvCredentials{Getenv: func(string) string { return "" }}).Retrieve(context.Background()); !errors.Is(err, ErrCredentials) {
		t.Fatalf("empty environment: %v", err)
	}
}

// TestCredentialsRefreshedBeforeExpiry: credentials expiring inside the
// expiry window are fetched again for the next request; long-lived ones
// are reused.
func TestCredentialsRefreshedBeforeExpiry(t *testing.T) {
	e := newEmulator(t)
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		want     int32
	}{{"expiring", 2 * time.Minute, 3}, {"long-lived", time.Hour, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			addr, fetches := credServer(t, func() time.Time { return time.Now().Add(tc.lifetime) })
			f := &fakeKMS{t: t, mode: "sealed", roots: []*x509Cert{e.Root()}}
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			serveOn(t, ln, f)
			c, err := New(&Config{NSM: e, Region: "us-east-1", Endpoint: "http://" + ln.Addr().String(), InsecureHTTPUnsafe: true,
				Credentials: &EndpointCredentials{Addr: addr}, KMSAccount: "111122223333", ExpiryWindow: 5 * time.Minute, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for range 3 {
				if _, err := c.GenerateDataKey(context.Background(), &kms.GenerateDataKeyInput{KeyId: aws.String("k"), KeySpec: "AES_256"}); err != nil {
					t.Fatal(err)
				}
			}
			if got := fetches.Load(); got != tc.want {
				t.Fatalf("%d credential fetches for 3 requests, want %d", got, tc.want)
			}
			if a, _ := f.authKeys.Load().(string); !strings.Contains(a, fmt.Sprintf("Credential=AKIDHOST%d/", tc.want)) {
				t.Fatalf("last request signed with %q", a)
			}
		})
	}
}

// TestKeyRotationMinimum: a KeyRotation below MinKeyRotation would make
// the agent generate an RSA key (about 100 ms of CPU, under the keyring's
// lock) at nearly every request; New refuses it with a KeyRotationError.
// 0 (DefaultKeyRotation), MinKeyRotation itself and a negative period
// (never rotate) keep their meaning.
func TestKeyRotationMinimum(t *testing.T) {
	e := newEmulator(t)
	creds := credentials.NewStaticCredentialsProvider("a", "b", "")
	cfg := func(d time.Duration) *Config {
		return &Config{NSM: e, Region: "us-east-1", Credentials: creds, KeyRotation: d}
	}
	for _, d := range []time.Duration{time.Nanosecond, time.Millisecond, time.Second, MinKeyRotation - 1} {
		c, err := New(cfg(d))
		var re *KeyRotationError
		if c != nil || !errors.As(err, &re) || !errors.Is(err, ErrConfig) {
			t.Fatalf("KeyRotation %v: %v, want a KeyRotationError matching ErrConfig", d, err)
		}
		if re.KeyRotation != d || re.Min != MinKeyRotation {
			t.Errorf("KeyRotation %v: %+v", d, re)
		}
		if want := "agent: invalid configuration: KeyRotation " + d.String() + " is below the minimum, 1m0s:"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("KeyRotation %v: message %q, want it to begin %q", d, err, want)
		}
	}
	for d, every := range map[time.Duration]time.Duration{0: DefaultKeyRotation, MinKeyRotation: MinKeyRotation, -1: -1} {
		c, err := New(cfg(d))
		if err != nil {
			t.Fatalf("KeyRotation %v: %v", d, err)
		}
		if c.keys.every != every {
			t.Errorf("KeyRotation %v: the key is replaced every %v, want %v", d, c.keys.every, every)
		}
		c.Close()
	}
}
