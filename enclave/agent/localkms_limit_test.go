// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestLocalKMSEndpointConcurrencyLimit: a process in the enclave (or a
// relayed flood) that keeps requests open cannot queue work without bound:
// beyond MaxConcurrent requests in progress the endpoint answers at once
// with ThrottlingException, which the SDKs retry, and a freed slot serves
// again.
func TestLocalKMSEndpointConcurrencyLimit(t *testing.T) {
	_, c := newFakeClient(t, newEmulator(t), "sealed")
	h, err := NewKMSEndpoint(&KMSEndpointConfig{Client: c, MaxConcurrent: 2, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	call := func(body io.Reader) (int, string) {
		r := httptest.NewRequest(http.MethodPost, "/", body)
		r.Header.Set("X-Amz-Target", "TrentService.NoSuchOperation")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var e struct {
			Type string `json:"__type"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		return w.Code, e.Type
	}
	// Two requests whose bodies never end hold both slots: once a byte
	// written to each pipe is read, its handler is inside the endpoint.
	var writers []*io.PipeWriter
	done := make(chan string, 2)
	for range 2 {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		go func() { _, typ := call(pr); done <- typ }()
		if _, err := pw.Write([]byte(" ")); err != nil {
			t.Fatal(err)
		}
	}
	if code, typ := call(strings.NewReader("{}")); code != http.StatusBadRequest || typ != "ThrottlingException" {
		t.Fatalf("third request with two in progress: %d %q, want 400 ThrottlingException", code, typ)
	}
	for _, pw := range writers {
		pw.Close()
	}
	for range 2 {
		if typ := <-done; typ != "UnknownOperationException" {
			t.Fatalf("a request holding a slot: %q, want UnknownOperationException", typ)
		}
	}
	if code, typ := call(strings.NewReader("{}")); typ != "UnknownOperationException" {
		t.Fatalf("after the slots were freed: %d %q, want UnknownOperationException", code, typ)
	}
}

// TestLocalKMSEndpointAnswerBound: the parent's answer to the endpoint is
// read up to 1 MiB (the client's transport bounds it, as for the SDK's
// calls): a longer one is refused, with its length announced or not, a
// Content-Length over the bound at once, and a Content-Length that
// promises more than comes is a failed read, not a wait or a buffer of
// the promised size.
func TestLocalKMSEndpointAnswerBound(t *testing.T) {
	big := `{"KeyMetadata":{"Description":"` + strings.Repeat("a", maxKMSResponse) + `"}}`
	exceeds := "agent: the key service's answer exceeds 1048576 bytes"
	for _, tc := range []struct {
		name     string
		parent   http.HandlerFunc
		wantCode string
		wantMsg  string
	}{
		{"over 1 MiB with Content-Length", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			_, _ = io.WriteString(w, big)
		}, "KMSInternalException", exceeds + " (its Content-Length is " + strconv.Itoa(len(big)) + "): refused"},
		{"over 1 MiB chunked", func(w http.ResponseWriter, _ *http.Request) {
			w.(http.Flusher).Flush() // no Content-Length: chunked
			_, _ = io.WriteString(w, big)
		}, "KMSInternalException", exceeds + ": refused"},
		{"Content-Length of 1 GiB, 2 bytes sent", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
			_, _ = io.WriteString(w, "{}")
		}, "KMSInternalException", exceeds + " (its Content-Length is 1073741824): refused"},
		{"Content-Length of 1000, 2 bytes sent", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "1000")
			_, _ = io.WriteString(w, "{}")
		}, "DependencyTimeoutException", "reading the key service's answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := passThroughEndpoint(t, newEmulator(t), tc.parent)
			status, code, b := post(t, url, "POST", "TrentService.DescribeKey", strings.NewReader(`{"KeyId":"k"}`))
			if code != tc.wantCode || !strings.Contains(string(b), tc.wantMsg) || status < 500 {
				t.Fatalf("%d %s %.200s, want %s %q", status, code, b, tc.wantCode, tc.wantMsg)
			}
		})
	}
	// At the bound: an answer of exactly 1 MiB is read whole (and then
	// checked as any answer).
	exact := `{"KeyId":"k","KeyMetadata":{"KeyId":"k","Description":"` + strings.Repeat("a", maxKMSResponse-len(`{"KeyId":"k","KeyMetadata":{"KeyId":"k","Description":""}}`)) + `"}}`
	url := passThroughEndpoint(t, newEmulator(t), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, exact)
	}))
	if status, code, b := post(t, url, "POST", "TrentService.DescribeKey", strings.NewReader(`{"KeyId":"k"}`)); status != 200 || len(b) != len(exact) {
		t.Fatalf("an answer of 1 MiB: %d %s, %d bytes", status, code, len(b))
	}
}
