// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
)

// webPKICert returns a certificate for name, self-signed, with its leaf:
// a stand-in for a publicly trusted one (the parent can get one for the
// enclave's name, which resolves to the parent).
func webPKICert(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// connectProxy is an HTTPS (CONNECT) proxy on the client's side, such as
// a corporate one named by HTTPS_PROXY, whose every tunnel the parent
// answers: it leads to upstream, whatever the address asked for.
// connects counts the tunnels.
func connectProxy(t *testing.T, upstream string) (u *url.URL, connects *atomic.Int32) {
	t.Helper()
	connects = new(atomic.Int32)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		connects.Add(1)
		up, err := net.Dial("tcp", upstream)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		// brw.Reader holds what the server read past the CONNECT.
		go func() { io.Copy(up, brw); up.Close() }()
		io.Copy(c, up)
		c.Close()
	}))
	t.Cleanup(proxy.Close)
	u, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u, connects
}

// TestTransportAttests: Client.Transport's connections are attested and
// challenged: the application answers, an enclave of another image is
// refused.
func TestTransportAttests(t *testing.T) {
	e := newEnclave(t, "app")
	hc := &http.Client{Transport: newClient(t, policy(e.emu, "app")).Transport(), Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + e.addr + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello from the enclave app: /hello" {
		t.Fatalf("app answered %q", b)
	}
	other := &http.Client{Transport: newClient(t, policy(e.emu, "another image")).Transport(), Timeout: time.Minute}
	defer other.CloseIdleConnections()
	_, err = other.Get("https://" + e.addr + "/hello")
	wantCode(t, err, attestation.CodePCRMismatch, attestation.ErrPCRMismatch)
}

// TestTransportProxy: http.Transport calls DialTLSContext only for
// requests it sends directly; with a Proxy (http.DefaultTransport and
// its clones take HTTPS_PROXY from the environment) it dials the proxy,
// CONNECTs, and does TLS itself with TLSClientConfig, and a client whose
// transport had only DialTLSContext set (as the package's example had
// it) accepted the parent's publicly trusted certificate for the
// enclave's name, no attestation asked. Client.Transport with a Proxy
// set afterwards refuses to dial the proxy (ErrConfig); with its DialContext
// removed too, its TLSClientConfig still demands the attestation
// document, which the parent's certificate lacks (ErrNoDocument).
func TestTransportProxy(t *testing.T) {
	e := newEnclave(t, "app")
	pc := webPKICert(t, "enclave.example")
	var parentAnswered atomic.Int32
	parent := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{pc}}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parentAnswered.Add(1)
		io.WriteString(w, "answered by the parent, not the enclave")
	}))
	roots := x509.NewCertPool()
	roots.AddCert(pc.Leaf)
	cl := newClient(t, policy(e.emu, "app"))

	for name, tc := range map[string]struct {
		tweak    func(*http.Transport)
		code     string
		target   error
		connects int32 // tunnels the proxy opened
	}{
		"Proxy set": {
			tweak:  func(tr *http.Transport) {},
			code:   attestation.CodeInvalidOptions,
			target: attestedtls.ErrConfig,
		},
		"Proxy set, DialContext removed": {
			tweak:    func(tr *http.Transport) { tr.DialContext = nil },
			code:     attestation.CodeMalformed,
			target:   attestedtls.ErrNoDocument,
			connects: 1,
		},
		"Proxy set, DialContext removed, web PKI roots": {
			// A caller who sets roots for the proxy's sake: the
			// attestation check stays (VerifyConnection).
			tweak: func(tr *http.Transport) {
				tr.DialContext = nil
				tr.TLSClientConfig.RootCAs = roots
				tr.TLSClientConfig.ServerName = "enclave.example"
			},
			code:     attestation.CodeMalformed,
			target:   attestedtls.ErrNoDocument,
			connects: 1,
		},
	} {
		t.Run(name, func(t *testing.T) {
			pu, connects := connectProxy(t, parent)
			tr := cl.Transport()
			tr.Proxy = http.ProxyURL(pu)
			tc.tweak(tr)
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: time.Minute}).Get("https://" + e.addr + "/orders/42")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Fatalf("a proxied request was answered %q", b)
			}
			wantCode(t, err, tc.code, tc.target)
			if n := connects.Load(); n != tc.connects {
				t.Errorf("the proxy opened %d tunnels, want %d", n, tc.connects)
			}
		})
	}
	if n := parentAnswered.Load(); n != 0 {
		t.Errorf("the parent answered %d requests", n)
	}
}

// TestTransportPlainHTTP: an http:// URL would be plain TCP through the
// parent; Client.Transport refuses to dial it.
func TestTransportPlainHTTP(t *testing.T) {
	e := newEnclave(t, "app")
	var hit atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Add(1) }))
	t.Cleanup(plain.Close)
	tr := newClient(t, policy(e.emu, "app")).Transport()
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr, Timeout: time.Minute}).Get(plain.URL + "/orders/42")
	wantCode(t, err, attestation.CodeInvalidOptions, attestedtls.ErrConfig)
	var ce *attestedtls.ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("err = %v, want a ConfigError", err)
	}
	if hit.Load() != 0 {
		t.Errorf("the plain HTTP server was reached")
	}
}
