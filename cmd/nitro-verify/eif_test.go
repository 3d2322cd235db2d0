// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/eif"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
	"github.com/enclavekit/enclavekit/internal/verifycli"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestScriptEIF runs testdata/eif/*.txtar: "nitro-verify measure" and
// "--eif" against images written by package eif, in $WORK:
//
//	signed.eif unsigned.eif     images (signed: ECDSA P-384, with metadata)
//	controls.eif badutf8.eif    images whose metadata holds ESC, DEL, U+009B (and a lone 0x9b byte)
//	truncated.eif badcrc.eif badsig.eif hostile.eif huge.eif   refused images
//	root.pem                    the emulated CA's root
//	match.cbor                  a document whose PCR0/1/2/8 are signed.eif's
//	unsigned-match.cbor         a document whose PCR0/1/2 are unsigned.eif's
//	mismatch.cbor               a document with other PCRs
func TestScriptEIF(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   filepath.Join("testdata", "eif"),
		Cmds:  cmds,
		Setup: func(e *testscript.Env) error { return writeEIFFixtures(t, e.WorkDir) },
	})
}

// TestMeasureInvalidUTF8: a lone 0x9b byte (CSI on an 8-bit terminal) in
// a rewritten metadata section comes out as U+FFFD, the description valid
// UTF-8 without a C1 control, raw or decoded (a script's regexp cannot
// tell a raw 0x9b from U+FFFD, hence a Go test).
func TestMeasureInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	if err := writeEIFFixtures(t, dir); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := verifycli.Main([]string{"measure", filepath.Join(dir, "badutf8.eif")}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.Bytes())
	}
	out := stdout.Bytes()
	if !utf8.Valid(out) || bytes.ContainsAny(out, "\x7f\u0080\u0085\u009b\u009f") {
		t.Errorf("not valid UTF-8, or a raw C1 control or DEL:\n%q", out)
	}
	if !bytes.Contains(out, []byte("\"team\": \"#\ufffd2J\\u0085\"")) {
		t.Errorf("the metadata's team is not \"#\\ufffd2J\\\\u0085\":\n%s", out)
	}
}

func writeEIFFixtures(t *testing.T, dir string) error {
	section := func(b []byte) *io.SectionReader { return io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b))) }
	spec := func() *eif.Spec {
		return &eif.Spec{
			Kernel:   section(bytes.Repeat([]byte("bzImage "), 512)),
			Cmdline:  "reboot=k panic=30 pci=off nomodules console=ttyS0",
			Ramdisks: []*io.SectionReader{section([]byte("bootstrap ramdisk")), section(bytes.Repeat([]byte("app "), 4096))},
			Metadata: &eif.Metadata{
				ImageName: "hello-enclave", ImageVersion: "1.2.3",
				BuildMetadata:  eif.BuildMetadata{BuildTime: "2026-01-01T00:00:00+00:00", BuildTool: "enclavekit", BuildToolVersion: "0.1.0", OperatingSystem: "Linux", KernelVersion: "6.1"},
				DockerInfo:     json.RawMessage(`{"Id":"sha256:0123"}`),
				CustomMetadata: json.RawMessage(`{"team":"payments"}`),
			},
		}
	}
	signer, err := testEIFSigner()
	if err != nil {
		return err
	}
	write := func(name string, s *eif.Spec) ([]byte, *eif.Measurements, error) {
		var b bytes.Buffer
		ms, err := eif.Write(&b, s)
		if err != nil {
			return nil, nil, err
		}
		return b.Bytes(), ms, os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644)
	}
	signedSpec := spec()
	signedSpec.Signer = signer
	signed, sms, err := write("signed.eif", signedSpec)
	if err != nil {
		return err
	}
	unsignedSpec := spec()
	unsignedSpec.Metadata = nil
	unsigned, ums, err := write("unsigned.eif", unsignedSpec)
	if err != nil {
		return err
	}
	// Metadata is the builder's, unsigned and unmeasured: its strings may
	// carry C0, DEL and C1 controls (the writer keeps U+009B and DEL raw),
	// and a rewritten section even a lone 0x9b byte, with the CRC fixed.
	ctrlSpec := spec()
	ctrlSpec.Metadata.ImageName = "evil\x1b[2J\u009b31m\x7f"
	ctrlSpec.Metadata.CustomMetadata = json.RawMessage(`{"team":"\u009b2J\u0085"}`)
	ctrl, _, err := write("controls.eif", ctrlSpec)
	if err != nil {
		return err
	}
	i := bytes.Index(ctrl, []byte(`"team":"`))
	if i < 0 || !bytes.HasPrefix(ctrl[i+8:], []byte("\u009b")) {
		return fmt.Errorf("controls.eif: no raw U+009B in the metadata section")
	}
	bad := append([]byte(nil), ctrl...)
	bad[i+8], bad[i+9] = '#', 0x9b // "\xc2\x9b" becomes "#\x9b": invalid UTF-8
	c := crc32IEEE(bad[:eif.HeaderSize-4], bad[eif.HeaderSize:])
	for k := 0; k < 4; k++ {
		bad[eif.HeaderSize-4+k] = byte(c >> (24 - 8*k))
	}
	if err := os.WriteFile(filepath.Join(dir, "badutf8.eif"), bad, 0o644); err != nil {
		return err
	}
	// The last ramdisk claims 2^62 bytes in the table and its own header:
	// streamed, never allocated, and refused at the end of the file.
	huge := append([]byte(nil), unsigned...)
	last := int(be64(huge[28+8*3:]))
	huge[284+8*3], huge[last+4] = 0x40, 0x40
	if err := os.WriteFile(filepath.Join(dir, "huge.eif"), huge, 0o644); err != nil {
		return err
	}
	corrupt := func(name string, f func([]byte) []byte) error {
		return os.WriteFile(filepath.Join(dir, name), f(append([]byte(nil), signed...)), 0o644)
	}
	if err := corrupt("truncated.eif", func(b []byte) []byte { return b[:len(b)/2] }); err != nil {
		return err
	}
	if err := corrupt("badcrc.eif", func(b []byte) []byte { b[600] ^= 1; return b }); err != nil {
		return err
	}
	// A section table claiming a 2^62-byte kernel: refused before reading.
	if err := corrupt("hostile.eif", func(b []byte) []byte {
		for _, off := range []int{284, eif.HeaderSize + 4} {
			b[off] = 0x40
		}
		return b[:eif.HeaderSize+eif.SectionHeaderSize+10]
	}); err != nil {
		return err
	}
	// A different image's signature section: well-formed, signs another PCR0.
	other := spec()
	other.Signer = signer
	other.Cmdline += " quiet"
	var ob bytes.Buffer
	if _, err := eif.Write(&ob, other); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "badsig.eif"), spliceSignature(signed, ob.Bytes()), 0o644); err != nil {
		return err
	}

	fx := attestationtest.New(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fx.Chain.Root.Raw})
	docs := map[string]func(*attestation.Document){
		"match.cbor":          func(d *attestation.Document) { setPCRs(d, sms) },
		"unsigned-match.cbor": func(d *attestation.Document) { setPCRs(d, ums) },
		"mismatch.cbor":       nil,
	}
	for name, mod := range docs {
		if err := os.WriteFile(filepath.Join(dir, name), fx.Document(t, mod), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "root.pem"), root, 0o644)
}

func setPCRs(d *attestation.Document, ms *eif.Measurements) {
	for i, v := range ms.PCRs() {
		d.PCRs[i] = v
	}
}

// spliceSignature replaces a's signature section (its last) with b's, and
// fixes a's table and CRC, so that only the signature check can fail.
func spliceSignature(a, b []byte) []byte {
	last := func(img []byte) int {
		n := int(img[27])
		off := 0
		for i := 0; i < n; i++ {
			off = int(be64(img[28+8*i:]))
		}
		return off
	}
	out := append(append([]byte(nil), a[:last(a)]...), b[last(b):]...)
	n := int(out[27])
	size := uint64(len(out) - last(out) - eif.SectionHeaderSize)
	for i := 0; i < 8; i++ {
		out[284+8*(n-1)+i] = byte(size >> (56 - 8*i))
	}
	c := crc32IEEE(out[:eif.HeaderSize-4], out[eif.HeaderSize:])
	for i := 0; i < 4; i++ {
		out[eif.HeaderSize-4+i] = byte(c >> (24 - 8*i))
	}
	return out
}

func be64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// testEIFSigner makes a P-384 signing certificate as the nitro-cli docs do
// (openssl ecparam -name secp384r1 -genkey; openssl req -x509).
func testEIFSigner() (*eif.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "enclave signer", Organization: []string{"Example Corp"}, Country: []string{"US"}},
		NotBefore:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return eif.NewSignerFromKey(cert, key)
}

func crc32IEEE(parts ...[]byte) uint32 {
	var c uint32
	for _, p := range parts {
		c = crc32.Update(c, crc32.IEEETable, p)
	}
	return c
}
