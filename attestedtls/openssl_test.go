// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestedtls"
	"github.com/enclavekit/enclavekit/internal/verifycli"
)

// openssl runs the openssl command line (an independent TLS 1.3 and RFC
// 8446 exporter implementation) with stdin.
func openssl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is not installed")
		}
		t.Skip("openssl is not installed (apt-get install openssl)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // only turns a hang into a failure
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// nitroVerify runs nitro-verify on doc and returns its exit code and
// output.
func nitroVerify(t *testing.T, doc []byte, args ...string) (int, string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "doc.cbor")
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := verifycli.Run(append(args, f), nil, &out, &errb, time.Now())
	return code, out.String() + errb.String()
}

// OpenSSL's s_client completes the handshake and shows the certificate
// with its id-pe-cmw extension; the document in it verifies with
// nitro-verify and binds the key OpenSSL saw.
func TestOpenSSLShowsCertificate(t *testing.T) {
	e := newEnclave(t, "app")
	out := openssl(t, "", "s_client", "-connect", e.addr, "-servername", "enclave.test", "-tls1_3", "-showcerts")
	if !strings.Contains(out, "TLSv1.3") {
		t.Fatalf("s_client did not negotiate TLS 1.3:\n%s", out)
	}
	block, _ := pem.Decode([]byte(out[strings.Index(out, "-----BEGIN CERTIFICATE-----"):]))
	if block == nil {
		t.Fatalf("no certificate in s_client's output:\n%s", out)
	}
	text := openssl(t, string(pem.EncodeToMemory(block)), "x509", "-noout", "-text")
	if !strings.Contains(text, "1.3.6.1.5.5.7.1.35") || !strings.Contains(text, "DNS:enclave.test") {
		t.Errorf("openssl x509 does not show the id-pe-cmw extension and the name:\n%s", text)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := attestedtls.DocumentFromCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "root.pem")
	os.WriteFile(root, e.emu.RootPEM(), 0o644)
	keyHash := hex.EncodeToString(attestedtls.KeyHash(cert.RawSubjectPublicKeyInfo))
	if code, out := nitroVerify(t, doc, "--root", root, "--pcr", "0="+hex.EncodeToString(pcr0("app")), "--public-key", keyHash); code != 0 {
		t.Fatalf("nitro-verify refused the certificate's document (exit %d):\n%s", code, out)
	}
}

// A challenge sent by OpenSSL: the enclave's answer verifies with
// nitro-verify, with OpenSSL's nonce, and its user_data is the exporter
// value OpenSSL computed for the session (-keymatexport), so both
// implementations agree on the channel binding.
func TestOpenSSLChallenge(t *testing.T) {
	e := newEnclave(t, "app")
	nonce := "00112233445566778899aabbccddeeff0102030405060708"
	req := "POST " + attestedtls.ChallengePath + " HTTP/1.1\r\nHost: enclave.test\r\n" +
		attestedtls.NonceHeader + ": " + nonce + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	out := openssl(t, req, "s_client", "-connect", e.addr, "-tls1_3", "-ign_eof",
		"-keymatexport", attestedtls.ExporterLabel, "-keymatexportlen", "32")
	m := regexp.MustCompile(`Keying material: ([0-9A-Fa-f]{64})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("s_client printed no keying material:\n%s", out)
	}
	i := strings.Index(out, "HTTP/1.1 ")
	if i < 0 {
		t.Fatalf("no HTTP answer in s_client's output:\n%s", out)
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out[i:])), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body.String())
	}
	root := filepath.Join(t.TempDir(), "root.pem")
	os.WriteFile(root, e.emu.RootPEM(), 0o644)
	code, vout := nitroVerify(t, body.Bytes(), "--root", root, "--pcr", "0="+hex.EncodeToString(pcr0("app")),
		"--nonce", nonce, "--user-data", strings.ToLower(m[1]), "--public-key", hex.EncodeToString(e.srv.KeyHash()), "--max-age", "1m")
	if code != 0 {
		t.Fatalf("nitro-verify refused the challenge document (exit %d):\n%s", code, vout)
	}
}
