// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"sync/atomic"
	"time"

	"github.com/enclavekit/enclavekit/internal/atomicfile"
	"github.com/enclavekit/enclavekit/internal/boundedfile"
)

// TLS names the KMS listener's certificate and key (PEM files), and
// optionally a CA whose client certificates are required (mutual TLS).
type TLS struct {
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	ClientCA string `yaml:"client_ca"`
}

// Certificate serves a certificate and key read from PEM files to TLS
// handshakes, and reads them again on [Certificate.Reload] (kms-server does
// on SIGHUP): connections already open keep going, new handshakes get the
// new pair, and a pair that fails to load leaves the old one in place.
type Certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCertificate reads a PEM certificate (chain) and its private key,
// refusing a key file that group or others can access ([*FileModeError]).
func LoadCertificate(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// CertificateError is a TLS certificate and key that could not be loaded.
// It matches [ErrConfig].
type CertificateError struct {
	// CertFile and KeyFile are the certificate's and the key's paths.
	CertFile, KeyFile string
	// File is the one of them that could not be read, or "" when both
	// were read but do not make a pair (see Err).
	File string
	// Err is the reason: the read error, or the pair's problem.
	Err error
}

// Error names both files and the reason.
func (e *CertificateError) Error() string {
	return fmt.Sprintf("%v: tls: cert %s and key %s: %v", ErrConfig, e.CertFile, e.KeyFile, e.Err)
}

// Unwrap returns Err.
func (e *CertificateError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrConfig].
func (e *CertificateError) Is(target error) bool { return target == ErrConfig }

// FileModeError is a file holding a secret that group or others can
// access. It matches [ErrFileMode].
type FileModeError struct {
	Path string
	Mode fs.FileMode
	// ACLEntry is the POSIX ACL entry that gives the access, as getfacl
	// writes it (user:1001:r--), or "" when the mode bits do.
	ACLEntry string
}

// Error says what to do.
func (e *FileModeError) Error() string {
	a := boundedfile.Access{Perm: e.Mode, Open: true, ACLEntry: e.ACLEntry}
	return fmt.Sprintf("accessible by group or others (%v); %s", a, a.Fix(e.Path))
}

// Is reports whether target is [ErrFileMode].
func (e *FileModeError) Is(target error) bool { return target == ErrFileMode }

// privateFile is a [boundedfile.ReadCheck] check that refuses, with a
// [*FileModeError], a file that group or others can access.
func privateFile(path string) func(fs.FileInfo) error {
	return func(fi fs.FileInfo) error {
		if a := boundedfile.WhoCanAccess(fi); a.Open {
			return &FileModeError{Path: path, Mode: a.Perm, ACLEntry: a.ACLEntry}
		}
		return nil
	}
}

// Reload reads the files again, each bounded by [MaxFileSize] (a named
// pipe or a huge file given by mistake is refused at once, see
// internal/boundedfile), the key refused when group or others can access
// it ([*FileModeError]); on error (a [*CertificateError]) the previous
// pair stays in use.
func (c *Certificate) Reload() error {
	fail := func(file string, err error) error {
		return &CertificateError{CertFile: c.certFile, KeyFile: c.keyFile, File: file, Err: err}
	}
	certPEM, err := boundedfile.Read(c.certFile, MaxFileSize)
	if err != nil {
		return fail(c.certFile, err)
	}
	keyPEM, err := boundedfile.ReadCheck(c.keyFile, MaxFileSize, privateFile(c.keyFile))
	if err != nil {
		return fail(c.keyFile, err)
	}
	defer clear(keyPEM)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fail("", err)
	}
	c.cur.Store(&pair)
	return nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// Certificate loads (once) the certificate and key of tls:, for
// [File.ServerConfig] and for the caller that reloads it on SIGHUP. nil
// without tls:.
func (f *File) Certificate() (*Certificate, error) {
	if f.TLS == nil {
		return nil, nil
	}
	if f.cert != nil {
		return f.cert, nil
	}
	if f.TLS.Cert == "" || f.TLS.Key == "" {
		return nil, f.errorf("tls", "cert and key are both required")
	}
	c, err := LoadCertificate(f.path(f.TLS.Cert), f.path(f.TLS.Key))
	if err != nil {
		return nil, err
	}
	f.cert = c
	return c, nil
}

// tlsConfig is the KMS listener's TLS configuration: TLS 1.2 at least
// (Go prefers 1.3), the reloadable certificate, and client certificates
// verified against client_ca when set.
func (f *File) tlsConfig() (*tls.Config, error) {
	cert, err := f.Certificate()
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cert.GetCertificate}
	if f.TLS.ClientCA != "" {
		b, err := boundedfile.Read(f.path(f.TLS.ClientCA), MaxFileSize)
		if err != nil {
			return nil, f.errorf("tls.client_ca", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, f.errorf("tls.client_ca", "%s holds no PEM certificate", f.path(f.TLS.ClientCA))
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// writeDevTLS makes a development CA and a server certificate for
// 127.0.0.1, ::1 and localhost (ECDSA P-256, valid from now for 397 days)
// and writes the CA certificate to caPath and the server's certificate and
// key to certPath and keyPath (the key mode 0600). The CA's key is not
// kept: it can sign nothing else.
func writeDevTLS(random io.Reader, now time.Time, caPath, certPath, keyPath string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return err
	}
	serial := func() (*big.Int, error) {
		return rand.Int(random, new(big.Int).Lsh(big.NewInt(1), 127))
	}
	sn, err := serial()
	if err != nil {
		return err
	}
	notBefore, notAfter := now.Add(-time.Hour), now.Add(397*24*time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: "kms-server development CA"},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	caDER, err := x509.CreateCertificate(random, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return err
	}
	if sn, err = serial(); err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(random, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return err
	}
	if err := atomicfile.Write(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600)
}
