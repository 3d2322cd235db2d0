// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
