// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
)

// plainTLS returns a server configuration with an ECDSA P-256 certificate
// issued by a test CA, and a client configuration that verifies it the
// usual way (web PKI rules against that CA): the floor.
func plainTLS(b *testing.B) (server, client *tls.Config) {
	b.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		b.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "enclave.test"},
		DNSNames: []string{"enclave.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	server = &tls.Config{MinVersion: tls.VersionTLS13, SessionTicketsDisabled: true, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "enclave.test"}
	return server, client
}

// attestedTLS returns the attested server's and a client's configuration;
// warm uses a Verifier whose chain cache is filled first.
func attestedTLS(b *testing.B, warm bool) (server, client *tls.Config) {
	b.Helper()
	emu := newEmulator(b, "app")
	srv, err := attestedtls.NewServer(&attestedtls.ServerConfig{NSM: emu, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	cfg := &attestedtls.ClientConfig{Options: attestation.Options{PCRs: map[int][]byte{0: pcr0("app")}, MaxAge: time.Hour}}
	if warm {
		v, err := newVerifier(emu.Root())
		if err != nil {
			b.Fatal(err)
		}
		cfg.Verifier = v
	} else {
		cfg.Options.Roots = []*x509.Certificate{emu.Root()}
	}
	c := newClient(b, cfg)
	server, client = srv.TLSConfig(), c.TLSConfig()
	server.SessionTicketsDisabled = true
	handshakePipe(b, server, client) // fills the warm cache
	return server, client
}

// handshakePipe runs one TLS handshake over an in-memory pipe. The server
// must not send session tickets: over a synchronous pipe it would wait for
// a client that never reads them.
func handshakePipe(b *testing.B, server, client *tls.Config) {
	if !server.SessionTicketsDisabled {
		b.Fatal("handshakePipe needs SessionTicketsDisabled")
	}
	cc, sc := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- tls.Server(sc, server).Handshake()
	}()
	c := tls.Client(cc, client)
	if err := c.Handshake(); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	// Close the pipe, not the TLS connections: their close_notify would
	// wait (up to 5 s) for a reader.
	cc.Close()
	sc.Close()
}

// Handshake cost, both sides in one process: plain TLS 1.3 with a P-256
// certificate verified against a CA (the floor), and attested TLS with a
// warm Verifier (one more ECDSA P-384 verification: the document's COSE
// signature) and without one (five).
func BenchmarkHandshake(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfgs func(*testing.B) (*tls.Config, *tls.Config)
	}{
		{"plain", plainTLS},
		{"attested-warm", func(b *testing.B) (*tls.Config, *tls.Config) { return attestedTLS(b, true) }},
		{"attested-cold", func(b *testing.B) (*tls.Config, *tls.Config) { return attestedTLS(b, false) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, c := bc.cfgs(b)
			b.ResetTimer()
			for b.Loop() {
				handshakePipe(b, s, c)
			}
		})
	}
}

// Bulk throughput over loopback TCP once connected: the attested
// connection is an ordinary TLS 1.3 connection, so it should match plain.
func BenchmarkThroughput(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfgs func(*testing.B) (*tls.Config, *tls.Config)
	}{
		{"plain", plainTLS},
		{"attested", func(b *testing.B) (*tls.Config, *tls.Config) { return attestedTLS(b, true) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, c := bc.cfgs(b)
			ln, err := tls.Listen("tcp", "127.0.0.1:0", s)
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				io.Copy(io.Discard, conn)
			}()
			conn, err := tls.Dial("tcp", ln.Addr().String(), c)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for b.Loop() {
				if _, err := conn.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The floor of what attestation adds to a handshake with a warm Verifier:
// one ECDSA P-384 verification (the document's COSE signature).
func BenchmarkECDSAP384VerifyFloor(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	digest := make([]byte, 48)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest, sig) {
			b.Fatal("verify")
		}
	}
}

// A whole Client.Dial over loopback TCP: handshake and challenge (an
// emulated NSM document, signed: one P-384 signature on the server, one
// more verification on the client), against the handshake alone.
func BenchmarkDial(b *testing.B) {
	e := newEnclave(b, "app")
	v, err := newVerifier(e.emu.Root())
	if err != nil {
		b.Fatal(err)
	}
	c := newClient(b, &attestedtls.ClientConfig{Verifier: v,
		Options: attestation.Options{PCRs: map[int][]byte{0: pcr0("app")}, MaxAge: time.Hour}})
	b.Run("handshake", func(b *testing.B) {
		for b.Loop() {
			conn, err := tls.Dial("tcp", e.addr, c.TLSConfig())
			if err != nil {
				b.Fatal(err)
			}
			conn.Close()
		}
	})
	b.Run("handshake+challenge", func(b *testing.B) {
		cx := ctx(b)
		for b.Loop() {
			conn, err := c.Dial(cx, "tcp", e.addr, "")
			if err != nil {
				b.Fatal(err)
			}
			conn.Close()
		}
	})
}
