// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden")

// goldenSpec is the fixed input of the golden images.
func goldenSpec(t *testing.T, signed bool) *Spec {
	spec := &Spec{
		Kernel:   sr(bytes.Repeat([]byte("golden kernel\n"), 100)),
		Cmdline:  "reboot=k panic=30 pci=off nomodules console=ttyS0 random.trust_cpu=on virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6",
		Ramdisks: []*io.SectionReader{sr(bytes.Repeat([]byte("bootstrap\n"), 50)), sr(bytes.Repeat([]byte("customer app\n"), 80))},
		Metadata: &Metadata{
			ImageName: "golden", ImageVersion: "1.0",
			BuildMetadata:  BuildMetadata{BuildTime: "2026-12-06T00:00:00.000000000+00:00", BuildTool: "nitro-cli", BuildToolVersion: "1.4.2", OperatingSystem: "Linux", KernelVersion: "6.12"},
			DockerInfo:     json.RawMessage(`{"Architecture":"amd64","Id":"sha256:0000"}`),
			CustomMetadata: json.RawMessage(`null`),
		},
	}
	if signed {
		cert, err := os.ReadFile("testdata/signing/certificate.pem")
		if err != nil {
			t.Fatal(err)
		}
		key, err := os.ReadFile("testdata/signing/key.pem")
		if err != nil {
			t.Fatal(err)
		}
		if spec.Signer, err = NewSigner(cert, key); err != nil {
			t.Fatal(err)
		}
	}
	return spec
}

// TestGolden pins Write's bytes and Describe's JSON for fixed inputs
// (-update rewrites them), and checks the signed image's certificate
// fields and PCR8 against OpenSSL.
func TestGolden(t *testing.T) {
	for _, name := range []string{"unsigned", "signed"} {
		t.Run(name, func(t *testing.T) {
			raw, _ := writeImage(t, goldenSpec(t, name == "signed"))
			img, err := Read(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			desc, err := img.Describe().JSON()
			if err != nil {
				t.Fatal(err)
			}
			eifPath := filepath.Join("testdata", "golden", name+".eif")
			jsonPath := filepath.Join("testdata", "golden", name+".describe.json")
			if *update {
				os.WriteFile(eifPath, raw, 0o644)
				os.WriteFile(jsonPath, desc, 0o644)
			}
			want, err := os.ReadFile(eifPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, want) {
				t.Errorf("Write's bytes differ from %s (run with -update if intended)", eifPath)
			}
			wantDesc, _ := os.ReadFile(jsonPath)
			if !bytes.Equal(desc, wantDesc) {
				t.Errorf("describe JSON differs from %s:\n%s", jsonPath, desc)
			}
		})
	}
}

// TestGoldenOpenSSL compares the signed golden image's PCR8 and
// SigningCertificate fields with what OpenSSL computes from the PEM.
func TestGoldenOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed: no independent certificate oracle")
	}
	run := func(args ...string) string {
		out, err := exec.Command(openssl, args...).Output()
		if err != nil {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return string(out)
	}
	raw, err := os.ReadFile("testdata/golden/signed.eif")
	if err != nil {
		t.Fatal(err)
	}
	img, err := Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	cert := "testdata/signing/certificate.pem"
	der := run("x509", "-in", cert, "-outform", "DER")
	d := sha512.Sum384([]byte(der))
	if got, want := hex.EncodeToString(img.Measurements.PCR8), hex.EncodeToString(pcrExtendOracle(d[:])); got != want {
		t.Errorf("PCR8 %s, want %s", got, want)
	}
	desc := img.Describe().SigningCertificate
	// notBefore=Dec  6 23:29:58 2026 GMT
	for _, line := range strings.Split(strings.TrimSpace(run("x509", "-in", cert, "-noout", "-startdate", "-enddate")), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got := map[string]string{"notBefore": desc.NotBefore, "notAfter": desc.NotAfter}[k]
		if got != v {
			t.Errorf("%s %q, openssl %q", k, got, v)
		}
	}
	// issuer with OpenSSL's long names, one per line: commonName=AWS
	for _, line := range strings.Split(strings.TrimSpace(run("x509", "-in", cert, "-noout", "-issuer", "-nameopt", "sep_multiline,lname,utf8")), "\n")[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		if desc.IssuerName[k] != v {
			t.Errorf("IssuerName[%s] = %q, openssl %q", k, desc.IssuerName[k], v)
		}
	}
	text := run("x509", "-in", cert, "-noout", "-text")
	if !strings.Contains(text, "Signature Algorithm: "+desc.Algorithm) {
		t.Errorf("Algorithm %q not in openssl's text", desc.Algorithm)
	}
	// The signature bytes, as openssl prints them (lower case, wrapped).
	i := strings.LastIndex(text, "Signature Value:")
	var sig strings.Builder
	for _, l := range strings.Split(text[i:], "\n")[1:] {
		sig.WriteString(strings.TrimSpace(l))
	}
	if strings.ToUpper(sig.String()) != desc.Signature {
		t.Errorf("Signature %s, openssl %s", desc.Signature, sig.String())
	}
}

// pcrExtendOracle spells out extend(D) = SHA-384(0^48 || D) without the
// package's helper.
func pcrExtendOracle(d []byte) []byte {
	s := sha512.Sum384(append(make([]byte, 48), d...))
	return s[:]
}
