// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
)

// A remote client: every connection of this http.Client is attested (the
// document in the certificate binds the server's key and pins the image)
// and challenged (a fresh document bound to the TLS session) before its
// first request. Client.Transport uses no proxy and refuses http:// URLs:
// net/http would do TLS itself, unattested, through a proxy (HTTPS_PROXY
// with http.DefaultTransport's clones), whatever DialTLSContext is.
func ExampleClient_Transport() {
	pcr0, _ := hex.DecodeString("f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b")
	v, err := attestation.NewVerifier(nil) // the AWS Nitro root; caches chains
	if err != nil {
		log.Fatal(err)
	}
	c, err := attestedtls.NewClient(&attestedtls.ClientConfig{
		Verifier: v,
		Options:  attestation.Options{PCRs: map[int][]byte{0: pcr0}, MaxAge: 10 * time.Minute},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Each connection is bounded by ClientConfig.Timeout (DefaultTimeout);
	// http.Transport ignores TLSHandshakeTimeout with DialTLSContext, so
	// bound each request, reading included, with http.Client.Timeout.
	hc := &http.Client{Transport: c.Transport(), Timeout: time.Minute}
	resp, err := hc.Get("https://enclave.example:8443/orders/42")
	if err != nil {
		log.Fatal(err) // errors.Is(err, attestation.ErrPCRMismatch), attestedtls.ErrKeyNotBound, ...
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
}

// The enclave side: a TLS key made in the enclave, a certificate carrying
// the NSM's document, the challenge, and the application behind it.
// HTTPServer speaks HTTP/1.1 only; an http.Server built by hand on
// s.TLSConfig() needs Protocols: attestedtls.HTTP1Only(), or a client
// offering h2 gets HTTP/2 and its hundreds of requests per connection.
func ExampleNewServer() {
	var nsm attestedtls.Attester // enclave.NSM: the device, or the emulator in development
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })
	s, err := attestedtls.NewServer(&attestedtls.ServerConfig{NSM: nsm})
	if err != nil {
		log.Fatal(err)
	}
	srv := s.HTTPServer(app)
	srv.Addr = ":8443"
	srv.WriteTimeout = time.Minute
	log.Fatal(srv.ListenAndServeTLS("", ""))
}

// The handshake alone, for any protocol over TLS: it fails unless the
// server is the attested enclave; a Challenge on the connection then
// proves it live and terminating this very session.
func ExampleNewTLSConfig() {
	pcr0, _ := hex.DecodeString("f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b")
	// NewTLSConfig refuses a policy that pins no image (ErrImageNotPinned):
	// any enclave would pass, one the parent instance runs itself included.
	cfg, err := attestedtls.NewTLSConfig(&attestedtls.ClientConfig{
		Options: attestation.Options{PCRs: map[int][]byte{0: pcr0}, MaxAge: 10 * time.Minute},
	})
	if err != nil {
		log.Fatal(err)
	}
	// A tls.Config carries no deadline (ClientConfig.Timeout does not
	// apply), and the parent relays every byte: without one, tls.Dial to a
	// peer that stays silent blocks forever.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", "enclave.example:8443")
	if err != nil {
		log.Fatal(err) // the handshake refused the server (see the typed errors), or timed out
	}
	defer conn.Close()
}
