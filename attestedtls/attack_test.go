// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
	"github.com/enclavekit/enclavekit/enclave/agent"
)

// The parent instance relays every byte between a remote client and the
// enclave. These tests play a parent that terminates TLS itself, in each
// way it could try, and check that the client refuses it with the
// specific error.

// parentCert issues a self-signed certificate for a fresh key of the
// parent's, carrying extra extensions.
func parentCert(t *testing.T, exts ...pkix.Extension) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "parent"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtraExtensions: exts}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func serveParent(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	return serveTLS(t, cfg, appHandler)
}

// enclaveExtension fetches the id-pe-cmw extension of the enclave's
// certificate, as the parent can by connecting to it.
func enclaveExtension(t *testing.T, addr string) pkix.Extension {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, e := range c.ConnectionState().PeerCertificates[0].Extensions {
		if e.Id.Equal(attestedtls.OIDExtensionCMW) {
			return e
		}
	}
	t.Fatal("the enclave's certificate has no id-pe-cmw extension")
	return pkix.Extension{}
}

// A parent with a certificate of its own and no document.
func TestParentInTheMiddleOwnCertificate(t *testing.T) {
	e := newEnclave(t, "app")
	addr := serveParent(t, parentCert(t))
	err := handshake(t, addr, newClient(t, policy(e.emu, "app")).TLSConfig())
	wantCode(t, err, attestation.CodeMalformed, attestedtls.ErrNoDocument, attestation.ErrMalformed)
	var de *attestedtls.DocumentError
	if !errors.As(err, &de) {
		t.Fatalf("err is %T, want *DocumentError: %v", err, err)
	}
}

// A parent that copies the enclave's genuine document into a certificate
// for its own key: the document binds the enclave's key, not the parent's.
func TestParentInTheMiddleCopiedDocument(t *testing.T) {
	e := newEnclave(t, "app")
	addr := serveParent(t, parentCert(t, enclaveExtension(t, e.addr)))
	err := handshake(t, addr, newClient(t, policy(e.emu, "app")).TLSConfig())
	wantCode(t, err, attestation.CodePublicKeyMismatch, attestedtls.ErrKeyNotBound, attestation.ErrPublicKeyMismatch)
	var kb *attestedtls.KeyBindingError
	if !errors.As(err, &kb) {
		t.Fatalf("err is %T, want *KeyBindingError: %v", err, err)
	}
	if hex.EncodeToString(kb.Got) != hex.EncodeToString(e.srv.KeyHash()) {
		t.Errorf("KeyBindingError.Got = %x, want the enclave's key hash %x", kb.Got, e.srv.KeyHash())
	}
}

// A parent that asks the agent's generic attestation endpoint (reachable
// through host-proxy ingress) for a document binding its own key. The
// endpoint refuses a caller's public_key; a document with the parent's
// key hash in user_data (which the endpoint does sign) binds nothing.
func TestParentInTheMiddleGenericEndpoint(t *testing.T) {
	e := newEnclave(t, "app")
	h, err := agent.NewEndpoint(&agent.EndpointConfig{NSM: e.emu, Kind: "emulator", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cert := parentCert(t)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	hash := hex.EncodeToString(attestedtls.KeyHash(leaf.RawSubjectPublicKeyInfo))
	ask := func(body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, agent.AttestationPath, strings.NewReader(body)))
		return rec
	}
	if rec := ask(`{"public_key":"` + hash + `"}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("the generic endpoint signed the parent's public_key: HTTP %d", rec.Code)
	}
	rec := ask(`{"user_data":"` + hash + `"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("generic endpoint: HTTP %d %s", rec.Code, rec.Body)
	}
	val, err := attestedtls.MarshalExtensionValue(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	forged := parentCert(t, pkix.Extension{Id: attestedtls.OIDExtensionCMW, Value: val})
	addr := serveParent(t, forged)
	err = handshake(t, addr, newClient(t, policy(e.emu, "app")).TLSConfig())
	wantCode(t, err, attestation.CodePublicKeyMismatch, attestedtls.ErrKeyNotBound)
}

// A parent that terminates TLS with the enclave's own certificate and key
// (say, stolen from an earlier instance) and forwards each challenge to
// the live enclave over a session of its own: the handshake passes, the
// challenge does not, because the enclave binds its own session.
func TestParentInTheMiddleStolenKeyRelaysChallenge(t *testing.T) {
	e := newEnclave(t, "app")
	stolen, err := e.srv.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	relay := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Forward the challenge, nonce and all, to the enclave.
		c, err := tls.Dial("tcp", e.addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer c.Close()
		req, _ := http.NewRequest(r.Method, "https://enclave"+r.URL.Path, nil)
		req.Header = r.Header.Clone()
		req.Write(c)
		resp, err := http.ReadResponse(bufioReader(c), req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	addr := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{*stolen}, MinVersion: tls.VersionTLS13}, relay)

	cl := newClient(t, policy(e.emu, "app"))
	if err := handshake(t, addr, cl.TLSConfig()); err != nil {
		t.Fatalf("the handshake with the stolen key failed (%v): the test no longer shows what the challenge adds", err)
	}
	_, err = cl.Dial(ctx(t), "tcp", addr, "")
	wantCode(t, err, attestation.CodeUserDataMismatch, attestedtls.ErrChannelBinding, attestation.ErrUserDataMismatch)
	var cb *attestedtls.ChannelBindingError
	if !errors.As(err, &cb) {
		t.Fatalf("err is %T, want *ChannelBindingError: %v", err, err)
	}
}

// A parent relaying the connection untouched (host-proxy ingress does) is
// not in the middle: the client reaches the enclave.
func TestParentRelaysUntouched(t *testing.T) {
	e := newEnclave(t, "app")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", e.addr)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
	conn, err := newClient(t, policy(e.emu, "app")).Dial(ctx(t), "tcp", ln.Addr().String(), "")
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}
