// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"crypto/elliptic"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"testing"
)

func TestWriteReadRoundTrip(t *testing.T) {
	signer := testSigner(t, elliptic.P384())
	for _, tc := range []struct {
		name   string
		signer *Signer
		meta   *Metadata
	}{
		{"unsigned", nil, testMetadata},
		{"signed", signer, testMetadata},
		{"no metadata", signer, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := smallSpec()
			spec.Signer, spec.Metadata = tc.signer, tc.meta
			spec.DefaultMemory, spec.DefaultCPUs, spec.ARM64 = 512<<20, 4, true
			raw, ms := writeImage(t, spec)
			img, err := Read(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if img.Version != 4 || img.Flags != FlagARM64 || img.DefaultMemory != 512<<20 || img.DefaultCPUs != 4 || img.Size != int64(len(raw)) {
				t.Errorf("header: %+v", img)
			}
			want := []SectionType{SectionKernel, SectionCmdline}
			if tc.meta != nil {
				want = append(want, SectionMetadata)
			}
			want = append(want, SectionRamdisk, SectionRamdisk, SectionRamdisk)
			if tc.signer != nil {
				want = append(want, SectionSignature)
			}
			var got []SectionType
			off := int64(HeaderSize)
			for _, s := range img.Sections {
				got = append(got, s.Type)
				if s.Offset != off {
					t.Errorf("section %v at %d, want %d", s.Type, s.Offset, off)
				}
				off += SectionHeaderSize + s.Size
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("sections %v, want %v", got, want)
			}
			if string(img.Cmdline) != spec.Cmdline {
				t.Errorf("cmdline %q", img.Cmdline)
			}
			if tc.meta != nil {
				if !reflect.DeepEqual(img.Metadata, tc.meta) {
					t.Errorf("metadata %+v, want %+v", img.Metadata, tc.meta)
				}
			} else if img.Metadata != nil {
				t.Errorf("metadata %+v, want none", img.Metadata)
			}
			if !reflect.DeepEqual(img.Measurements, *ms) {
				t.Errorf("read measurements %x, written %x", img.Measurements, *ms)
			}
			if tc.signer != nil {
				if img.Signature == nil || !img.Signature.Certificate.Equal(signer.Certificate()) || img.Signature.Algorithm != "ES384" ||
					img.Signature.PCRIndex != 0 || !bytes.Equal(img.Signature.PCRValue, ms.PCR0) || len(ms.PCR8) != 48 {
					t.Errorf("signature %+v", img.Signature)
				}
			} else if img.Signature != nil || ms.PCR8 != nil {
				t.Errorf("unsigned image has a signature or PCR8")
			}
			if len(img.Measurements.PCRs()) != map[bool]int{false: 3, true: 4}[tc.signer != nil] {
				t.Errorf("PCRs() = %v", img.Measurements.PCRs())
			}
		})
	}
}

func TestWriteDeterministic(t *testing.T) {
	signer := testSigner(t, elliptic.P384())
	spec := smallSpec()
	spec.Signer = signer
	a, ma := writeImage(t, spec)
	b, mb := writeImage(t, smallSpecWith(signer))
	if !bytes.Equal(a, b) || !reflect.DeepEqual(ma, mb) {
		t.Fatal("the same inputs gave different images")
	}
	// A different cmdline changes PCR0 and PCR1 but not PCR2 or PCR8.
	spec = smallSpecWith(signer)
	spec.Cmdline += " quiet"
	_, mc := writeImage(t, spec)
	if bytes.Equal(mc.PCR0, ma.PCR0) || bytes.Equal(mc.PCR1, ma.PCR1) || !bytes.Equal(mc.PCR2, ma.PCR2) || !bytes.Equal(mc.PCR8, ma.PCR8) {
		t.Error("cmdline change: wrong PCRs changed")
	}
	// A different app ramdisk changes PCR0 and PCR2 only.
	spec = smallSpecWith(signer)
	spec.Ramdisks[2] = sr([]byte("app ramdisk TWO"))
	_, md := writeImage(t, spec)
	if bytes.Equal(md.PCR0, ma.PCR0) || !bytes.Equal(md.PCR1, ma.PCR1) || bytes.Equal(md.PCR2, ma.PCR2) {
		t.Error("app ramdisk change: wrong PCRs changed")
	}
}

func smallSpecWith(s *Signer) *Spec { spec := smallSpec(); spec.Signer = s; return spec }

func TestSignerCurves(t *testing.T) {
	for _, tc := range []struct {
		curve elliptic.Curve
		alg   string
	}{{elliptic.P256(), "ES256"}, {elliptic.P384(), "ES384"}, {elliptic.P521(), "ES512"}} {
		raw, _ := writeImage(t, smallSpecWith(testSigner(t, tc.curve)))
		img, err := Read(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", tc.alg, err)
		}
		if img.Signature.Algorithm != tc.alg {
			t.Errorf("algorithm %s, want %s", img.Signature.Algorithm, tc.alg)
		}
	}
}

func TestSpecErrors(t *testing.T) {
	c1, k1 := testCert(t, elliptic.P384())
	_, k2 := testCert(t, elliptic.P384())
	if _, err := NewSigner(c1, k2); !isSpecErr(err, "private key") {
		t.Errorf("mismatched key: %v", err)
	}
	if _, err := NewSigner(k1, k1); !isSpecErr(err, "signing certificate") {
		t.Errorf("key as certificate: %v", err)
	}
	for name, mutate := range map[string]func(*Spec){
		"Kernel":      func(s *Spec) { s.Kernel = nil },
		"Ramdisks":    func(s *Spec) { s.Ramdisks = nil },
		"Ramdisks[0]": func(s *Spec) { s.Ramdisks[0] = nil },
		"Cmdline":     func(s *Spec) { s.Cmdline = "a\x00b" },
	} {
		spec := smallSpec()
		mutate(spec)
		if _, err := Write(io.Discard, spec); !isSpecErr(err, name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	spec := smallSpec()
	for len(spec.Ramdisks) < 31 {
		spec.Ramdisks = append(spec.Ramdisks, sr([]byte("x")))
	}
	if _, err := Write(io.Discard, spec); !isSpecErr(err, "Ramdisks") {
		t.Errorf("33 sections: %v", err)
	}
}

func isSpecErr(err error, field string) bool {
	se, ok := err.(*SpecError)
	return ok && se.Field == field
}

func TestDescribe(t *testing.T) {
	spec := smallSpecWith(testSigner(t, elliptic.P384()))
	spec.Metadata = &Metadata{
		ImageName: "hello", ImageVersion: "2", BuildMetadata: testMetadata.BuildMetadata,
		DockerInfo:     json.RawMessage(`{"Id":"x"}`),
		CustomMetadata: json.RawMessage(`{"z":1,"BuildTime":"spoofed","a":[true]}`),
	}
	raw, ms := writeImage(t, spec)
	img, err := Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := img.Describe().JSON()
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"EifVersion", "Measurements", "IsSigned", "SigningCertificate", "CheckCRC", "SignatureCheck", "ImageName", "ImageVersion", "Metadata"}
	for _, k := range wantKeys {
		if _, ok := d[k]; !ok {
			t.Errorf("missing %s in %s", k, out)
		}
	}
	var m DescribedMeasurements
	json.Unmarshal(d["Measurements"], &m)
	if m.HashAlgorithm != "Sha384 { ... }" || m.PCR8 == "" || m.PCR0 != hexs(ms.PCR0) {
		t.Errorf("measurements %+v", m)
	}
	var compact bytes.Buffer
	json.Compact(&compact, d["Metadata"])
	if got, want := compact.String(), `{"BuildTime":"2025-01-02T03:04:05.000000000+00:00","BuildTool":"enclavekit","BuildToolVersion":"0.1.0","OperatingSystem":"Linux","KernelVersion":"6.1 <x86_64> & more","DockerInfo":{"Id":"x"},"a":[true],"z":1}`; got != want {
		t.Errorf("Metadata\n got %s\nwant %s", got, want)
	}
	var c DescribedCertificate
	json.Unmarshal(d["SigningCertificate"], &c)
	if c.Algorithm != "ecdsa-with-SHA384" || c.NotBefore != "Jan  1 00:00:00 2024 GMT" || c.IssuerName["commonName"] != "eif test signer" ||
		c.IssuerName["countryName"] != "US" || c.IssuerName["organizationName"] != "enclavekit" || len(c.Signature) < 3 || c.Signature[2] != ':' {
		t.Errorf("certificate %+v", c)
	}
	// Unsigned: no PCR8, no signature fields.
	raw, _ = writeImage(t, smallSpec())
	img, _ = Read(bytes.NewReader(raw))
	out, _ = json.Marshal(img.Describe())
	d = nil
	json.Unmarshal(out, &d)
	for _, k := range []string{"SigningCertificate", "SignatureCheck"} {
		if _, ok := d[k]; ok {
			t.Errorf("unsigned image describes %s", k)
		}
	}
	if bytes.Contains(d["Measurements"], []byte("PCR8")) || string(d["IsSigned"]) != "false" {
		t.Errorf("unsigned: %s", out)
	}
}

func hexs(b []byte) string { return string(appendHex(nil, b)) }

func appendHex(dst, b []byte) []byte {
	const digits = "0123456789abcdef"
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}

// TestNewSignerOpenSSLKey reads the key file `openssl ecparam -genkey`
// writes (an EC PARAMETERS block, then the key), as nitro-cli takes it.
func TestNewSignerOpenSSLKey(t *testing.T) {
	cert, _ := os.ReadFile("testdata/signing/certificate.pem")
	key, _ := os.ReadFile("testdata/signing/key.pem")
	if !bytes.HasPrefix(key, []byte("-----BEGIN EC PARAMETERS-----")) {
		t.Fatal("testdata/signing/key.pem is not openssl ecparam's output")
	}
	if _, err := NewSigner(cert, key); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner(cert, append(append([]byte(nil), key...), key...)); !isSpecErr(err, "private key") {
		t.Errorf("two keys: %v", err)
	}
	if _, err := NewSigner(cert, []byte("-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n")); !isSpecErr(err, "private key") {
		t.Errorf("parameters only: %v", err)
	}
}

// TestReadMultiChunk streams sections of several unaligned chunks through
// both goroutines (run it with -race) and compares with Write's
// measurements, computed by a separate, sequential path.
func TestReadMultiChunk(t *testing.T) {
	blob := func(n int, seed byte) *io.SectionReader {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7) ^ seed
		}
		return sr(b)
	}
	spec := &Spec{
		Kernel:   blob(chunkSize*2+17, 1),
		Cmdline:  "console=ttyS0",
		Ramdisks: []*io.SectionReader{blob(chunkSize+1, 2), blob(chunkSize*3-5, 3), blob(1, 4), blob(chunkSize, 5)},
		Signer:   testSigner(t, elliptic.P384()),
	}
	raw, ms := writeImage(t, spec)
	for name, read := range map[string]func() (*Image, error){
		"Read":   func() (*Image, error) { return Read(bytes.NewReader(raw)) },
		"ReadAt": func() (*Image, error) { return ReadAt(bytes.NewReader(raw), int64(len(raw))) },
		"Read, 1-byte reads": func() (*Image, error) {
			return Read(io.LimitReader(oneByteReader{bytes.NewReader(raw)}, int64(len(raw))))
		},
	} {
		img, err := read()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(img.Measurements, *ms) {
			t.Errorf("%s: measurements differ from Write's", name)
		}
	}
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}
