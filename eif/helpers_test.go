// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"hash/crc32"
	"io"
	"math/big"
	"testing"
	"time"
)

// testCert makes a self-signed certificate and key on curve, as
// `openssl req -x509 -new -key key.pem` would for nitro-cli.
func testCert(t testing.TB, curve elliptic.Curve) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "eif test signer", Organization: []string{"enclavekit"}, Country: []string{"US"}},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func testSigner(t testing.TB, curve elliptic.Curve) *Signer {
	t.Helper()
	c, k := testCert(t, curve)
	s, err := NewSigner(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sr(b []byte) *io.SectionReader { return io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b))) }

var testMetadata = &Metadata{
	ImageName:    "hello",
	ImageVersion: "1.0",
	BuildMetadata: BuildMetadata{
		BuildTime:        "2025-01-02T03:04:05.000000000+00:00",
		BuildTool:        "enclavekit",
		BuildToolVersion: "0.1.0",
		OperatingSystem:  "Linux",
		KernelVersion:    "6.1 <x86_64> & more",
	},
	DockerInfo:     json.RawMessage(`{"Id":"sha256:00"}`),
	CustomMetadata: json.RawMessage(`{"level":3,"team":"kms"}`),
}

// smallSpec is a three-ramdisk image with metadata.
func smallSpec() *Spec {
	return &Spec{
		Kernel:   sr([]byte("kernel bytes: MZ...")),
		Cmdline:  "reboot=k panic=30 pci=off nomodules console=ttyS0",
		Ramdisks: []*io.SectionReader{sr([]byte("bootstrap ramdisk")), sr([]byte("app ramdisk one")), sr([]byte("app ramdisk two"))},
		Metadata: testMetadata,
	}
}

func writeImage(t testing.TB, spec *Spec) ([]byte, *Measurements) {
	t.Helper()
	var buf bytes.Buffer
	ms, err := Write(&buf, spec)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), ms
}

// rawSection is a section for assemble: any type, flags and data.
type rawSection struct {
	typ   uint16
	flags uint16
	data  []byte
}

// assemble lays out sections contiguously with a consistent table and a
// correct CRC, so that a test can reach the check it targets.
func assemble(version uint16, secs []rawSection) []byte {
	h := make([]byte, HeaderSize)
	copy(h, ".eif")
	binary.BigEndian.PutUint16(h[4:], version)
	binary.BigEndian.PutUint64(h[8:], DefaultMemory)
	binary.BigEndian.PutUint64(h[16:], DefaultCPUs)
	binary.BigEndian.PutUint16(h[26:], uint16(len(secs)))
	off := uint64(HeaderSize)
	var body []byte
	for i, s := range secs {
		binary.BigEndian.PutUint64(h[28+8*i:], off)
		binary.BigEndian.PutUint64(h[284+8*i:], uint64(len(s.data)))
		var sh [SectionHeaderSize]byte
		binary.BigEndian.PutUint16(sh[0:], s.typ)
		binary.BigEndian.PutUint16(sh[2:], s.flags)
		binary.BigEndian.PutUint64(sh[4:], uint64(len(s.data)))
		body = append(append(body, sh[:]...), s.data...)
		off += SectionHeaderSize + uint64(len(s.data))
	}
	return fixCRC(append(h, body...))
}

// fixCRC recomputes the header CRC of an image in place.
func fixCRC(img []byte) []byte {
	c := crc32.Update(0, crc32.IEEETable, img[:crcOffset])
	c = crc32.Update(c, crc32.IEEETable, img[HeaderSize:])
	binary.BigEndian.PutUint32(img[crcOffset:], c)
	return img
}

// sectionsOf splits a well-formed image back into raw sections.
func sectionsOf(t testing.TB, img []byte) []rawSection {
	t.Helper()
	var out []rawSection
	for p := HeaderSize; p < len(img); {
		typ := binary.BigEndian.Uint16(img[p:])
		n := int(binary.BigEndian.Uint64(img[p+4:]))
		out = append(out, rawSection{typ: typ, data: append([]byte(nil), img[p+SectionHeaderSize:p+SectionHeaderSize+n]...)})
		p += SectionHeaderSize + n
	}
	return out
}
