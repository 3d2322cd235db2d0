// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/enclave/emulator"
)

func newEmulator(t testing.TB) *emulator.Emulator {
	t.Helper()
	e, err := emulator.New(&emulator.Config{Debug: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestParseAttestationRequest(t *testing.T) {
	for _, tc := range []struct {
		in              string
		nonce, ud, pk   []byte
		nonceNil, udNil bool
		wantErr         bool
	}{
		{in: ``, nonceNil: true, udNil: true},
		{in: `{}`, nonceNil: true, udNil: true},
		{in: `{"nonce":"00ff","user_data":"","public_key":null}`, nonce: []byte{0, 0xff}, ud: []byte{}},
		{in: ` {"nonce":"ABCD"} `, nonce: []byte{0xab, 0xcd}, udNil: true},
		{in: `{"nonce":"0"}`, wantErr: true},
		{in: `{"nonce":"zz"}`, wantErr: true},
		{in: `{"nonce":1}`, wantErr: true},
		{in: `{"nonce":["00"]}`, wantErr: true},
		{in: `{"Nonce":"00"}`, wantErr: true},
		{in: `{"nonce":"00","nonce":"01"}`, wantErr: true},
		{in: `{"extra":"00"}`, wantErr: true},
		{in: `{"nonce":"00"} {}`, wantErr: true},
		{in: `{"nonce":"00"`, wantErr: true},
		{in: `[]`, wantErr: true},
		{in: `"x"`, wantErr: true},
		{in: `{"nonce":"` + strings.Repeat("00", 1025) + `"}`, wantErr: true},
	} {
		r, err := ParseAttestationRequest([]byte(tc.in))
		if tc.wantErr {
			if !errors.Is(err, ErrBadRequest) || r != nil {
				t.Errorf("%q: %v, want ErrBadRequest", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if (r.Nonce == nil) != tc.nonceNil || !bytes.Equal(r.Nonce, tc.nonce) || (r.UserData == nil) != tc.udNil || !bytes.Equal(r.UserData, tc.ud) || r.PublicKey != nil && !bytes.Equal(r.PublicKey, tc.pk) {
			t.Errorf("%q: got %+v", tc.in, r)
		}
	}
	if _, err := ParseAttestationRequest(make([]byte, MaxAttestationRequestBody+1)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("oversized body: %v", err)
	}
}

func FuzzParseAttestationRequest(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"nonce":"00ff","user_data":"","public_key":null}`, `{"nonce":"0"}`,
		`{"nonce":"00","nonce":"01"}`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"public_key":"` + strings.Repeat("ab", 1024) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseAttestationRequest(body)
		if err != nil {
			if r != nil || !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v with request %v", err, r)
			}
			return
		}
		for _, b := range [][]byte{r.Nonce, r.UserData, r.PublicKey} {
			if len(b) > 1024 {
				t.Fatalf("accepted a %d-byte field", len(b))
			}
		}
		// Round trip: re-encode and parse again.
		m := map[string]any{}
		for k, v := range map[string][]byte{"nonce": r.Nonce, "user_data": r.UserData, "public_key": r.PublicKey} {
			if v != nil {
				m[k] = hex.EncodeToString(v)
			}
		}
		again, _ := json.Marshal(m)
		r2, err := ParseAttestationRequest(again)
		if err != nil || !bytes.Equal(r2.Nonce, r.Nonce) || !bytes.Equal(r2.UserData, r.UserData) || !bytes.Equal(r2.PublicKey, r.PublicKey) ||
			(r2.Nonce == nil) != (r.Nonce == nil) || (r2.UserData == nil) != (r.UserData == nil) || (r2.PublicKey == nil) != (r.PublicKey == nil) {
			t.Fatalf("round trip of %q: %+v, %v", again, r2, err)
		}
	})
}

func TestEndpoint(t *testing.T) {
	e := newEmulator(t)
	h, err := NewEndpoint(&EndpointConfig{NSM: e, Kind: "emulator", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	nonce := []byte("fresh nonce from the verifier")
	body := `{"nonce":"` + hex.EncodeToString(nonce) + `","user_data":"0102"}`
	resp, err := http.Post(srv.URL+AttestationPath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != MediaTypeCBOR {
		t.Fatalf("POST: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), doc)
	}
	d, err := attestation.Verify(doc, attestation.Options{
		Roots: []*x509Cert{e.Root()}, CurrentTime: time.Now(), Nonce: nonce, UserData: []byte{1, 2}, AllowDebugUnsafe: true,
	})
	if err != nil {
		t.Fatalf("document from the endpoint: %v", err)
	}
	if d.PublicKey != nil {
		t.Fatal("public_key should be absent")
	}

	for _, tc := range []struct {
		method, path, ctype, body string
		status                    int
		code                      string
	}{
		{"GET", AttestationPath, "", "", 405, "method_not_allowed"},
		{"POST", AttestationPath, "application/json", `{"nonce":"xyz"}`, 400, "bad_request"},
		{"POST", AttestationPath, "application/json", `{"nonce":"` + strings.Repeat("00", 1025) + `"}`, 400, "bad_request"},
		{"POST", AttestationPath, "text/plain", `{}`, 415, "bad_request"},
		{"POST", AttestationPath, "application/json", strings.Repeat(" ", MaxAttestationRequestBody+1), 413, "bad_request"},
		{"GET", "/v1/other", "", "", 404, "not_found"},
		{"POST", HealthPath, "", "", 405, "method_not_allowed"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != tc.status || e.Error.Code != tc.code {
			t.Errorf("%s %s %q: %d %q, want %d %q", tc.method, tc.path, tc.body[:min(len(tc.body), 20)], resp.StatusCode, e.Error.Code, tc.status, tc.code)
		}
	}

	resp, err = http.Get(srv.URL + HealthPath)
	if err != nil {
		t.Fatal(err)
	}
	var hj map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&hj)
	resp.Body.Close()
	if resp.StatusCode != 200 || hj["status"] != "ok" || hj["nsm"] != "emulator" || hj["module_id"] != e.ModuleID() {
		t.Fatalf("health: %d %v", resp.StatusCode, hj)
	}
}

// TestEndpointBodyReadFailure: a body that cannot be read for a reason
// other than its size (a client gone mid-body, a broken chunked
// encoding) is a 400 that says so, not the 413 "body over N bytes" of an
// oversized body, which would mislead whoever reads the log.
func TestEndpointBodyReadFailure(t *testing.T) {
	h, err := NewEndpoint(&EndpointConfig{NSM: newEmulator(t), Kind: "emulator"})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", AttestationPath, io.MultiReader(strings.NewReader(`{"nonce":`), iotest.ErrReader(io.ErrUnexpectedEOF)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	if rec.Code != 400 || e.Error.Code != "bad_request" || e.Error.Message != "reading the request body: unexpected EOF" {
		t.Fatalf("unreadable body: %d %+v, want 400 bad_request (reading the request body: unexpected EOF)", rec.Code, e.Error)
	}
}

func TestEndpointHealthNotReady(t *testing.T) {
	e := newEmulator(t)
	h, _ := NewEndpoint(&EndpointConfig{NSM: e, Kind: "emulator", Ready: func() error { return errors.New("data key not fetched yet") }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", HealthPath, nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "data key not fetched yet") {
		t.Fatalf("health when not ready: %d %s", rec.Code, rec.Body)
	}
}
