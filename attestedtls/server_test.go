// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// flakyNSM fails when told to.
type flakyNSM struct {
	attestedtls.Attester
	mu   sync.Mutex
	fail bool
}

func (f *flakyNSM) Attestation(n, u, p []byte) ([]byte, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return nil, errors.New("nsm down")
	}
	return f.Attester.Attestation(n, u, p)
}

func certDoc(t *testing.T, s *attestedtls.Server) (*x509.Certificate, []byte) {
	t.Helper()
	c, err := s.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	doc, err := attestedtls.DocumentFromCertificate(leaf)
	if err != nil {
		t.Fatal(err)
	}
	return leaf, doc
}

// The certificate's document is replaced every Refresh, for the same key,
// and before the NSM leaf expires; when the NSM fails the old one is
// served until its leaf expires, then handshakes fail.
func TestServerRefresh(t *testing.T) {
	emu := newEmulator(t, "app")
	clk := &clock{t: time.Now()}
	nsm := &flakyNSM{Attester: emu}
	s, err := attestedtls.NewServer(&attestedtls.ServerConfig{NSM: nsm, Refresh: 10 * time.Minute, Clock: clk.now, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	leaf1, doc1 := certDoc(t, s)
	clk.add(5 * time.Minute)
	if _, doc := certDoc(t, s); !bytes.Equal(doc, doc1) {
		t.Error("document replaced before Refresh")
	}
	clk.add(6 * time.Minute)
	leaf2, doc2 := certDoc(t, s)
	if bytes.Equal(doc2, doc1) {
		t.Fatal("document not replaced after Refresh")
	}
	if !bytes.Equal(leaf1.RawSubjectPublicKeyInfo, leaf2.RawSubjectPublicKeyInfo) {
		t.Error("the TLS key changed on refresh")
	}
	d, err := attestation.Parse(doc2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.PublicKey, attestedtls.KeyHash(leaf2.RawSubjectPublicKeyInfo)) || d.Nonce != nil || d.UserData != nil {
		t.Errorf("certificate document: public_key %x nonce %x user_data %x", d.PublicKey, d.Nonce, d.UserData)
	}
	if !leaf2.NotAfter.Equal(d.Certificate.NotAfter) {
		t.Errorf("certificate NotAfter %v, want the NSM leaf's %v", leaf2.NotAfter, d.Certificate.NotAfter)
	}

	nsm.mu.Lock()
	nsm.fail = true
	nsm.mu.Unlock()
	clk.add(11 * time.Minute)
	if _, doc := certDoc(t, s); !bytes.Equal(doc, doc2) {
		t.Error("NSM down: the previous certificate is not served")
	}
	clk.t = d.Certificate.NotAfter.Add(time.Second)
	if _, err := s.Certificate(); err == nil {
		t.Error("NSM down and the leaf expired: a certificate was still served")
	}
}

func TestServerConfigErrors(t *testing.T) {
	for name, cfg := range map[string]*attestedtls.ServerConfig{
		"nil":     nil,
		"no NSM":  {},
		"refresh": {NSM: newEmulator(t, "x"), Refresh: -1},
	} {
		if _, err := attestedtls.NewServer(cfg); !errors.Is(err, attestedtls.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}

func TestParseNonce(t *testing.T) {
	for in, ok := range map[string]bool{
		"":                                     false,
		"00112233445566778899aabbccddee":       false, // 15 bytes
		"00112233445566778899aabbccddeeff":     true,
		"00112233445566778899AABBCCDDEEFF":     true,
		"zz112233445566778899aabbccddeeff":     false,
		string(bytes.Repeat([]byte("ab"), 65)): false,
		string(bytes.Repeat([]byte("ab"), 64)): true,
	} {
		if _, err := attestedtls.ParseNonce(in); (err == nil) != ok {
			t.Errorf("ParseNonce(%q) err = %v, want ok=%v", in, err, ok)
		}
	}
}

// blockingNSM holds every challenge until released.
type blockingNSM struct {
	attestedtls.Attester
	entered chan struct{}
	release chan struct{}
}

func (b *blockingNSM) Attestation(n, u, p []byte) ([]byte, error) {
	if n != nil { // a challenge, not the certificate's document
		b.entered <- struct{}{}
		<-b.release
	}
	return b.Attester.Attestation(n, u, p)
}

// A flood of challenges cannot queue NSM requests without bound: beyond
// MaxChallenges at once, the server answers 503 at once.
func TestChallengeConcurrencyBound(t *testing.T) {
	emu := newEmulator(t, "app")
	nsm := &blockingNSM{Attester: emu, entered: make(chan struct{}, 8), release: make(chan struct{})}
	s, err := attestedtls.NewServer(&attestedtls.ServerConfig{NSM: nsm, MaxChallenges: 2, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, s.TLSConfig(), s.Handler(appHandler))
	cl := newClient(t, policy(emu, "app"))
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := cl.Dial(ctx(t), "tcp", addr, "")
			errs <- err
		}()
	}
	<-nsm.entered
	<-nsm.entered
	_, err = cl.Dial(ctx(t), "tcp", addr, "")
	var ce *attestedtls.ChallengeError
	if !errors.As(err, &ce) || ce.Status != 503 {
		t.Fatalf("third challenge at once: err = %v, want a 503 ChallengeError", err)
	}
	close(nsm.release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("held challenge: %v", err)
		}
	}
}
