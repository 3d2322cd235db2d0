// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"crypto/elliptic"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"testing"
)

// TestKnownAnswerGolden fixes the PCR formulas with values computed outside
// Go (Python hashlib, and openssl dgst -sha384 for PCR0):
// extend(D) = SHA-384(0^48 || D).
func TestKnownAnswerGolden(t *testing.T) {
	raw := assemble(4, []rawSection{
		{typ: 1, data: []byte("kernel")}, {typ: 2, data: []byte("cmdline")},
		{typ: 3, data: []byte("ramdisk0")}, {typ: 3, data: []byte("ramdisk1")},
	})
	img, err := Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"PCR0": "9476662f525a28aa994c65883117bdacb3a0911961b455e0db6c85ff33269432fff9368094f6a413095e29bada04472e",
		"PCR1": "bb597e78cae555537aea0843f40c48b9a510188880a82351eac8c7930825ac391554907e4354f431f36fbc82416d18b4",
		"PCR2": "361b4f176971a5893fc98afbed75853fdc33c130370ca7cf9fa27578446d3708611d899a2703095c7335733c0d099d46",
	}
	got := map[string]string{"PCR0": hex.EncodeToString(img.Measurements.PCR0), "PCR1": hex.EncodeToString(img.Measurements.PCR1), "PCR2": hex.EncodeToString(img.Measurements.PCR2)}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s = %s, want %s", k, got[k], want[k])
		}
	}
	// One ramdisk: PCR2 is the extend of SHA-384 of nothing.
	raw = assemble(4, []rawSection{{typ: 1, data: []byte("kernel")}, {typ: 2, data: []byte("cmdline")}, {typ: 3, data: []byte("ramdisk0")}})
	img, err = Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if h := hex.EncodeToString(img.Measurements.PCR2); h != "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a" {
		t.Errorf("PCR2 with one ramdisk = %s", h)
	}
}

func minimal() []rawSection {
	return []rawSection{{typ: 1, data: []byte("kernel")}, {typ: 2, data: []byte("cmdline")}, {typ: 3, data: []byte("ramdisk")}}
}

func TestMutationsRefused(t *testing.T) {
	signed, _ := writeImage(t, smallSpecWith(testSigner(t, elliptic.P384())))
	put64 := func(b []byte, off int, v uint64) []byte { binary.BigEndian.PutUint64(b[off:], v); return b }
	base := func() []byte { return assemble(4, minimal()) }
	withSig := func(f func(secs []rawSection) []rawSection) []byte { return assemble(4, f(sectionsOf(t, signed))) }

	tests := []struct {
		name  string
		input []byte
		check func(error) bool
	}{
		{"empty", nil, isTrunc(-1)},
		{"short header", base()[:100], isTrunc(-1)},
		{"bad magic", func() []byte { b := base(); b[0] = 'E'; return b }(), isHeader("magic")},
		{"version 1", func() []byte { b := base(); b[5] = 1; return b }(), func(err error) bool {
			var e *VersionError
			return errors.As(err, &e) && e.Version == 1 && errors.Is(err, ErrUnsupported)
		}},
		{"version 5", func() []byte { b := base(); b[5] = 5; return b }(), func(err error) bool { var e *VersionError; return errors.As(err, &e) && e.Version == 5 }},
		{"unknown flags", func() []byte { b := base(); b[7] = 2; return b }(), isHeader("flags")},
		{"reserved", func() []byte { b := base(); b[25] = 1; return b }(), isHeader("reserved")},
		{"unused", func() []byte { b := base(); b[543] = 1; return b }(), isHeader("unused")},
		{"two sections", assemble(4, minimal()[:2]), isHeader("num_sections")},
		{"33 sections", func() []byte { b := base(); b[27] = 33; return b }(), isHeader("num_sections")},
		{"stray table entry", func() []byte { return put64(base(), 28+8*5, 4096) }(), isHeader("section_offsets/sizes[5]")},
		{"overlapping sections", func() []byte { b := base(); return put64(b, 28+8, binary.BigEndian.Uint64(b[28+8:])-1) }(), isSection(1, "overlapping")},
		{"section over header", func() []byte { return put64(base(), 28, 100) }(), isSection(0, "overlapping")},
		{"gap between sections", func() []byte { b := base(); return put64(b, 28+16, binary.BigEndian.Uint64(b[28+16:])+1) }(), isSection(2, "right after")},
		{"size overflow", func() []byte { return put64(base(), 284, math.MaxUint64) }(), isSize(0)},
		{"table and section header disagree", func() []byte {
			b := base()
			return fixCRC(put64(b, HeaderSize+4, 5)) // kernel's own header says 5, table says 6
		}(), isSection(0, "differs")},
		{"unknown section type", assemble(4, append(minimal(), rawSection{typ: 6, data: []byte("?")})), isUnknown(3, 6)},
		{"invalid section type 0", assemble(4, append(minimal(), rawSection{typ: 0})), isUnknown(3, 0)},
		{"section flags", assemble(4, []rawSection{{typ: 1, data: []byte("k")}, {typ: 2, flags: 1}, {typ: 3}}), isSection(1, "flags")},
		{"cmdline first", assemble(4, []rawSection{{typ: 2}, {typ: 1}, {typ: 3}}), isSection(0, "first section")},
		{"ramdisk second", assemble(4, []rawSection{{typ: 1}, {typ: 3}, {typ: 2}}), isSection(1, "second section")},
		{"two kernels", assemble(4, append(minimal(), rawSection{typ: 1})), isSection(3, "second kernel")},
		{"no ramdisk", assemble(4, []rawSection{{typ: 1}, {typ: 2}, {typ: 5, data: must(testMetadata.encode())}}), func(err error) bool {
			return isSection(-1, "no ramdisk")(err)
		}},
		{"metadata in version 3", assemble(3, append(minimal(), rawSection{typ: 5, data: []byte("{}")})), isSection(3, "version 3")},
		{"signature in version 2", assemble(2, append(minimal(), rawSection{typ: 4})), isSection(3, "version 2")},
		{"two metadata", func() []byte {
			m, _ := testMetadata.encode()
			return assemble(4, append(minimal(), rawSection{typ: 5, data: m}, rawSection{typ: 5, data: m}))
		}(), isSection(4, "second metadata")},
		{"oversize cmdline", assemble(4, []rawSection{{typ: 1}, {typ: 2, data: make([]byte, MaxCmdlineSize+1)}, {typ: 3}}), isSize(1)},
		{"oversize metadata claim", func() []byte {
			b := assemble(4, append(minimal(), rawSection{typ: 5, data: []byte("{}")}))
			off := binary.BigEndian.Uint64(b[28+8*3:])
			put64(b, 284+8*3, 1<<40)
			return put64(b, int(off)+4, 1<<40)
		}(), isSize(3)},
		{"truncated kernel", func() []byte { b := base(); return b[:HeaderSize+SectionHeaderSize+3] }(), isTrunc(0)},
		{"truncated last section", func() []byte { b := base(); return b[:len(b)-1] }(), isTrunc(2)},
		{"trailing byte", append(base(), 0), func(err error) bool {
			var e *TrailingDataError
			return errors.As(err, &e) && errors.Is(err, ErrMalformed)
		}},
		{"wrong CRC in data", func() []byte { b := base(); b[len(b)-1] ^= 1; return b }(), isCRC},
		{"wrong CRC field", func() []byte { b := base(); b[crcOffset] ^= 0x80; return b }(), isCRC},
		{"metadata unknown key", assemble(4, append(minimal(), rawSection{typ: 5, data: []byte(`{"ImageName":"a","ImageVersion":"b","BuildMetadata":{"BuildTime":"","BuildTool":"","BuildToolVersion":"","OperatingSystem":"","KernelVersion":""},"DockerInfo":null,"CustomMetadata":null,"Extra":1}`)})), isMeta},
		{"metadata missing key", assemble(4, append(minimal(), rawSection{typ: 5, data: []byte(`{"ImageName":"a"}`)})), isMeta},
		{"metadata not JSON", assemble(4, append(minimal(), rawSection{typ: 5, data: []byte(`{`)})), isMeta},
		{"section after signature", withSig(func(s []rawSection) []rawSection { return append(s, rawSection{typ: 3, data: []byte("late")}) }), isSection(7, "follows the signature")},
		{"signature garbage", assemble(4, append(minimal(), rawSection{typ: 4, data: []byte{0xff}})), isSigMalformed},
		{"two PCR signatures", withSig(func(s []rawSection) []rawSection {
			d := s[len(s)-1].data
			s[len(s)-1].data = append(append([]byte{0x82}, d[1:]...), d[1:]...)
			return s
		}), isSigMalformed},
		{"tampered COSE signature", withSig(func(s []rawSection) []rawSection {
			sig := parseSig(t, s[len(s)-1].data)
			c := append([]byte(nil), sig.COSESign1...)
			c[len(c)-1] ^= 1
			s[len(s)-1].data = encodeSignatureSection(sig.CertificatePEM, c)
			return s
		}), isBadSig},
		{"signature by another key", withSig(func(s []rawSection) []rawSection {
			sig := parseSig(t, s[len(s)-1].data)
			other := testSigner(t, elliptic.P384())
			os := parseSig(t, must(other.sign(sig.PCRValue)))
			s[len(s)-1].data = encodeSignatureSection(sig.CertificatePEM, os.COSESign1)
			return s
		}), isBadSig},
		{"signature over another PCR0", withSig(func(s []rawSection) []rawSection {
			s[3].data = []byte("a different bootstrap ramdisk") // PCR0 changes; the signature does not
			return s
		}), isBadSig},
		{"no CERTIFICATE block", withSig(func(s []rawSection) []rawSection {
			sig := parseSig(t, s[len(s)-1].data)
			s[len(s)-1].data = encodeSignatureSection([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), sig.COSESign1)
			return s
		}), isSigMalformed},
		{"certificate with PEM headers", withSig(func(s []rawSection) []rawSection {
			sig := parseSig(t, s[len(s)-1].data)
			enc := bytes.Replace(sig.CertificatePEM, []byte("-----\n"), []byte("-----\nProc-Type: 4,ENCRYPTED\n\n"), 1)
			s[len(s)-1].data = encodeSignatureSection(enc, sig.COSESign1)
			return s
		}), isSigMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Read(bytes.NewReader(tc.input))
			if err == nil || img != nil {
				t.Fatalf("accepted (img %v)", img != nil)
			}
			if !tc.check(err) {
				t.Errorf("wrong error %T: %v", err, err)
			}
		})
	}
}

// TestEveryTruncationRefused cuts a signed image at every length.
func TestEveryTruncationRefused(t *testing.T) {
	raw, _ := writeImage(t, smallSpecWith(testSigner(t, elliptic.P256())))
	for n := 0; n < len(raw); n++ {
		_, err := Read(bytes.NewReader(raw[:n]))
		var te *TruncatedError
		if !errors.As(err, &te) || !errors.Is(err, ErrMalformed) {
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
}

// TestReadErrorPassedThrough: an I/O error is not reported as malformed.
func TestReadErrorPassedThrough(t *testing.T) {
	raw, _ := writeImage(t, smallSpec())
	boom := errors.New("disk on fire")
	_, err := Read(io.MultiReader(bytes.NewReader(raw[:700]), &errReader{boom}))
	if !errors.Is(err, boom) || errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v", err)
	}
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

func parseSig(t *testing.T, b []byte) *Signature {
	t.Helper()
	s, err := parseSignatureSection(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func isTrunc(index int) func(error) bool {
	return func(err error) bool {
		var e *TruncatedError
		return errors.As(err, &e) && e.Index == index && errors.Is(err, ErrMalformed)
	}
}

func isHeader(field string) func(error) bool {
	return func(err error) bool {
		var e *HeaderError
		return errors.As(err, &e) && e.Field == field && errors.Is(err, ErrMalformed)
	}
}

func isSection(index int, reason string) func(error) bool {
	return func(err error) bool {
		var e *SectionError
		return errors.As(err, &e) && e.Index == index && bytes.Contains([]byte(e.Reason), []byte(reason)) && errors.Is(err, ErrMalformed)
	}
}

func isSize(index int) func(error) bool {
	return func(err error) bool {
		var e *SizeError
		return errors.As(err, &e) && e.Index == index && errors.Is(err, ErrMalformed)
	}
}

func isUnknown(index int, typ SectionType) func(error) bool {
	return func(err error) bool {
		var e *UnknownSectionError
		return errors.As(err, &e) && e.Index == index && e.Type == typ && errors.Is(err, ErrMalformed)
	}
}

func isCRC(err error) bool {
	var e *CRCError
	return errors.As(err, &e) && e.Header != e.Computed && errors.Is(err, ErrCRCMismatch) && !errors.Is(err, ErrMalformed)
}

func isMeta(err error) bool {
	var e *MetadataError
	return errors.As(err, &e) && errors.Is(err, ErrMalformed)
}

func isSigMalformed(err error) bool {
	var e *SignatureError
	return errors.As(err, &e) && e.Malformed && errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature)
}

func isBadSig(err error) bool {
	var e *SignatureError
	return errors.As(err, &e) && !e.Malformed && errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed)
}

// TestReadAtRefusesBeforeHashing: with the size known, a truncated or
// padded image is refused right after the header, having read nothing
// else, whatever the sizes it claims.
func TestReadAtRefusesBeforeHashing(t *testing.T) {
	raw, ms := writeImage(t, smallSpecWith(testSigner(t, elliptic.P384())))
	img, err := ReadAt(bytes.NewReader(raw), int64(len(raw)))
	if err != nil || !bytes.Equal(img.Measurements.PCR8, ms.PCR8) {
		t.Fatalf("ReadAt: %v", err)
	}
	for n := 0; n < len(raw); n++ {
		cr := &countingReaderAt{r: bytes.NewReader(raw)}
		_, err := ReadAt(cr, int64(n))
		var te *TruncatedError
		if !errors.As(err, &te) || !errors.Is(err, ErrMalformed) {
			t.Fatalf("cut at %d: %v", n, err)
		}
		if cr.n > HeaderSize {
			t.Fatalf("cut at %d: read %d bytes before refusing", n, cr.n)
		}
	}
	padded := append(append([]byte(nil), raw...), 0)
	cr := &countingReaderAt{r: bytes.NewReader(padded)}
	var td *TrailingDataError
	if _, err := ReadAt(cr, int64(len(padded))); !errors.As(err, &td) || td.Offset != int64(len(raw)) || cr.n > HeaderSize {
		t.Fatalf("padded: %v after %d bytes", err, cr.n)
	}
	if _, err := ReadAt(cr, -1); err == nil {
		t.Fatal("negative size accepted")
	}
}

type countingReaderAt struct {
	r *bytes.Reader
	n int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += n
	return n, err
}

// TestSectionTableOverflow: a section table whose second section ends
// within a section header of the largest offset made the room left for the
// next one negative, which wrapped to a huge bound and passed, so the image
// was refused later as "trailing data ... at offset -9223372036854775785"
// (found by review; never accepted). It is a SizeError at the section
// that no longer fits.
func TestSectionTableOverflow(t *testing.T) {
	img := assemble(4, []rawSection{{typ: 1}, {typ: 2}, {typ: 3}})
	h := img[:HeaderSize]
	binary.BigEndian.PutUint64(h[284:], uint64(1<<63-1)-HeaderSize-SectionHeaderSize)
	binary.BigEndian.PutUint64(h[28+8:], 1<<63-1)
	binary.BigEndian.PutUint64(h[28+16:], uint64(1<<63-1)+SectionHeaderSize)
	_, err := ReadAt(bytes.NewReader(img), int64(len(img)))
	var se *SizeError
	var sec *SectionError
	if !errors.As(err, &se) && !errors.As(err, &sec) {
		t.Fatalf("ReadAt: %v (%T), want a SizeError or SectionError", err, err)
	}
	if bytes.Contains([]byte(err.Error()), []byte("-")) {
		t.Fatalf("ReadAt: %v: a negative offset or bound", err)
	}
}
