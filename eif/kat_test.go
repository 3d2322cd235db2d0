// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os/exec"
	"strings"
	"testing"
)

// oracle runs testdata/eif_oracle.py, an independent implementation of the
// layout, CRC and PCR formulas (struct, zlib, hashlib, cryptography).
func oracle(t *testing.T, job map[string]any) map[string]any {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: the independent oracle cannot run")
	}
	in, _ := json.Marshal(job)
	cmd := exec.Command(py, "testdata/eif_oracle.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "No module named 'cryptography'") {
			t.Skip("python3 has no cryptography package: the signature oracle cannot run")
		}
		t.Fatalf("oracle: %v\n%s", err, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestKnownAnswerOracle builds the same image here and in Python: the
// bytes must be identical and the PCRs must be the oracle's.
func TestKnownAnswerOracle(t *testing.T) {
	kernel := bytes.Repeat([]byte("K"), 300)
	ramdisks := [][]byte{[]byte("init"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 1000), []byte("second app ramdisk")}
	meta := &Metadata{
		ImageName: "kat", ImageVersion: "0.0.1",
		BuildMetadata:  BuildMetadata{BuildTime: "2024-07-09T17:16:38.424202433+00:00", BuildTool: "eif_build", BuildToolVersion: "0.2.0", OperatingSystem: "Generic Linux", KernelVersion: "Unknown version <&>"},
		DockerInfo:     json.RawMessage(`{"RepoTags":["x:latest"],"Id":"sha256:ab","Config":{"Env":["A=1"]}}`),
		CustomMetadata: json.RawMessage(`{"zeta":1.50,"alpha":null,"é":"ü","whole":2.0,"n":-7}`),
	}
	spec := &Spec{Kernel: sr(kernel), Cmdline: "console=ttyS0 reboot=k", Metadata: meta}
	for _, r := range ramdisks {
		spec.Ramdisks = append(spec.Ramdisks, sr(r))
	}
	raw, ms := writeImage(t, spec)

	var metaObj map[string]any
	mj, _ := json.Marshal(meta)
	dec := json.NewDecoder(bytes.NewReader(mj))
	dec.UseNumber()
	dec.Decode(&metaObj)
	var rdHex []string
	for _, r := range ramdisks {
		rdHex = append(rdHex, hex.EncodeToString(r))
	}
	res := oracle(t, map[string]any{"op": "build", "kernel": hex.EncodeToString(kernel), "cmdline": spec.Cmdline, "ramdisks": rdHex, "metadata": metaObj})
	if res["image"] != hex.EncodeToString(raw) {
		t.Errorf("image bytes differ from the oracle's\n got %x\nwant %s", raw, res["image"])
	}
	img, err := Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for i, got := range [][]byte{img.Measurements.PCR0, img.Measurements.PCR1, img.Measurements.PCR2} {
		if want := res["PCR"+string(rune('0'+i))]; hex.EncodeToString(got) != want {
			t.Errorf("PCR%d = %x, oracle %s", i, got, want)
		}
	}
	if !bytes.Equal(ms.PCR0, img.Measurements.PCR0) {
		t.Error("Write and Read disagree on PCR0")
	}
}

// TestKnownAnswerOracleSigned checks a signed image against the oracle:
// PCR8 from the certificate's DER, the signature section's serde layout,
// and the COSE signature verified by Python's cryptography package.
func TestKnownAnswerOracleSigned(t *testing.T) {
	certPEM, keyPEM := testCert(t, elliptic.P384())
	s, err := NewSigner(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := writeImage(t, smallSpecWith(s))
	img, err := Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	rs := img.Signature.COSESign1[len(img.Signature.COSESign1)-96:]
	res := oracle(t, map[string]any{"op": "verify", "image": hex.EncodeToString(raw), "cert_pem": string(certPEM), "r_s": hex.EncodeToString(rs)})
	if res["section_matches"] != true || res["signature_valid"] != true || res["crc_ok"] != true {
		t.Errorf("oracle: %v", res)
	}
	m := img.Measurements
	for k, got := range map[string][]byte{"PCR0": m.PCR0, "PCR1": m.PCR1, "PCR2": m.PCR2, "PCR8": m.PCR8} {
		if hex.EncodeToString(got) != res[k] {
			t.Errorf("%s = %x, oracle %s", k, got, res[k])
		}
	}
	// A tampered r||s must fail in the oracle too (it is not a rubber stamp).
	bad := append([]byte(nil), rs...)
	bad[10] ^= 1
	if res := oracle(t, map[string]any{"op": "verify", "image": hex.EncodeToString(raw), "cert_pem": string(certPEM), "r_s": hex.EncodeToString(bad)}); res["signature_valid"] != false || res["section_matches"] != false {
		t.Errorf("oracle accepted a tampered signature: %v", res)
	}
}

// TestSigningCertificateAsOpenSSLReadsIt: nitro-cli stores the certificate
// file it was given byte for byte, and the reference reads it as OpenSSL
// does (the first CERTIFICATE block, what surrounds it skipped). An image
// whose file is `openssl x509 -text` output, with another PEM block before
// the certificate and text after it, measures the same PCR8 as the clean
// file, here and in the oracle (which reads the PEM with OpenSSL through
// the cryptography package).
func TestSigningCertificateAsOpenSSLReadsIt(t *testing.T) {
	certPEM, keyPEM := testCert(t, elliptic.P384())
	s, err := NewSigner(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := writeImage(t, smallSpecWith(s))
	clean, err := Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	noisy := []byte("Certificate:\n    Data:\n        Subject: " + cert.Subject.String() + "\n" +
		"-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n")
	noisy = append(noisy, certPEM...)
	noisy = append(noisy, "trailing notes\n"...)
	secs := sectionsOf(t, raw)
	secs[len(secs)-1].data = encodeSignatureSection(noisy, clean.Signature.COSESign1)
	img, err := Read(bytes.NewReader(assemble(4, secs)))
	if err != nil {
		t.Fatalf("Read with the noisy certificate file: %v", err)
	}
	if !bytes.Equal(img.Measurements.PCR8, clean.Measurements.PCR8) || !bytes.Equal(img.Signature.CertificatePEM, noisy) {
		t.Fatalf("PCR8 %x, want %x (the clean file's); certificate bytes kept: %v", img.Measurements.PCR8, clean.Measurements.PCR8, bytes.Equal(img.Signature.CertificatePEM, noisy))
	}
	noisyImage := assemble(4, secs)
	rs := img.Signature.COSESign1[len(img.Signature.COSESign1)-96:]
	res := oracle(t, map[string]any{"op": "verify", "image": hex.EncodeToString(noisyImage), "cert_pem": string(noisy), "r_s": hex.EncodeToString(rs)})
	if res["section_matches"] != true || res["signature_valid"] != true || res["PCR8"] != hex.EncodeToString(img.Measurements.PCR8) {
		t.Errorf("oracle: %v; PCR8 here %x", res, img.Measurements.PCR8)
	}
}
