// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/enclave"
)

// holdingNSM holds every Attestation and DescribeNSM until released and
// counts the requests in progress.
type holdingNSM struct {
	enclave.NSM
	entered chan struct{}
	release chan struct{}
	now     atomic.Int32
	most    atomic.Int32
}

func (h *holdingNSM) hold() func() {
	n := h.now.Add(1)
	for {
		m := h.most.Load()
		if n <= m || h.most.CompareAndSwap(m, n) {
			break
		}
	}
	h.entered <- struct{}{}
	<-h.release
	return func() { h.now.Add(-1) }
}

func (h *holdingNSM) Attestation(n, u, p []byte) ([]byte, error) {
	defer h.hold()()
	return h.NSM.Attestation(n, u, p)
}

func (h *holdingNSM) DescribeNSM() (*enclave.Description, error) {
	defer h.hold()()
	return h.NSM.DescribeNSM()
}

// A flood of POST /v1/attestation from the parent cannot queue NSM
// requests without bound: beyond MaxConcurrent at once, the endpoint
// answers 503 busy with Retry-After at once, and the held requests still
// succeed.
func TestEndpointFloodBounded(t *testing.T) {
	const limit = 2
	nsm := &holdingNSM{NSM: newEmulator(t), entered: make(chan struct{}, 64), release: make(chan struct{})}
	h, err := NewEndpoint(&EndpointConfig{NSM: nsm, Kind: "emulator", MaxConcurrent: limit, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	released := false
	free := func() {
		if !released {
			released = true
			close(nsm.release)
		}
	}
	defer free() // before srv.Close, which waits for the held requests

	codes := make(chan int, limit)
	for range limit {
		go func() {
			resp, err := http.Post(srv.URL+AttestationPath, "application/json", strings.NewReader(`{"nonce":"01"}`))
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for range limit {
		<-nsm.entered
	}
	// The flood: every further request, attestation or health, is
	// refused at once instead of waiting for an NSM slot. A request that
	// waited would wait until the held ones are released, after the flood:
	// the timeout only turns that wait into a failure, so it is far beyond
	// what a loaded machine needs to refuse.
	flood := &http.Client{Timeout: 30 * time.Second}
	for i := range 20 {
		path, method := AttestationPath, "POST"
		if i%4 == 3 {
			path, method = HealthPath, "GET"
		}
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(`{"nonce":"02"}`))
		resp, err := flood.Do(req)
		if err != nil {
			t.Fatalf("%s %s during a flood: %v (queued behind the NSM)", method, path, err)
		}
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s %s during a flood: %d Retry-After %q, want 503 with Retry-After", method, path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if path == AttestationPath && e.Error.Code != "busy" {
			t.Fatalf("POST %s during a flood: code %q, want busy", path, e.Error.Code)
		}
	}
	free()
	for range limit {
		if c := <-codes; c != 200 {
			t.Errorf("held request: status %d, want 200", c)
		}
	}
	if m := nsm.most.Load(); m > limit {
		t.Fatalf("%d NSM requests at once, want at most %d", m, limit)
	}
	// Once the slots are free, requests succeed again.
	resp, err := http.Post(srv.URL+AttestationPath, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after the flood: %d", resp.StatusCode)
	}
}

func TestEndpointMaxConcurrentNegative(t *testing.T) {
	_, err := NewEndpoint(&EndpointConfig{NSM: newEmulator(t), MaxConcurrent: -1})
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("MaxConcurrent -1: err = %v, want ErrConfig", err)
	}
}
