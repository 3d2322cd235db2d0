// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"crypto/sha512"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
)

// Image is an EIF read by [Read]: its header, section table, the small
// sections, and the measurements of the large ones.
type Image struct {
	// Version is the EIF version (2, 3 or 4).
	Version uint16
	// Flags is the header flags field (0, or [FlagARM64]).
	Flags uint16
	// DefaultMemory and DefaultCPUs are the header's defaults.
	DefaultMemory, DefaultCPUs uint64
	// Sections is the section table, in file order.
	Sections []Section
	// CRC32 is the header's CRC32, checked against the image.
	CRC32 uint32
	// Size is the image's size in bytes.
	Size int64
	// Cmdline is the kernel command line section.
	Cmdline []byte
	// Metadata is the decoded metadata section, nil if absent.
	// MetadataJSON is its raw bytes.
	Metadata     *Metadata
	MetadataJSON []byte
	// Signature is the decoded and verified signature section, nil if the
	// image is not signed.
	Signature *Signature
	// Measurements are the PCRs an enclave booted from this image has.
	Measurements Measurements
}

// Measurements are the PCR values nitro-cli computes for an image (see
// the package documentation for the formulas). Each is 48 bytes.
type Measurements struct {
	PCR0 []byte
	PCR1 []byte
	PCR2 []byte
	// PCR8 is nil for an unsigned image.
	PCR8 []byte
}

// PCRs returns the measurements by PCR index (0, 1, 2, and 8 if signed).
func (m Measurements) PCRs() map[int][]byte {
	p := map[int][]byte{0: m.PCR0, 1: m.PCR1, 2: m.PCR2}
	if m.PCR8 != nil {
		p[8] = m.PCR8
	}
	return p
}

// chunkSize is the size of each of the two streaming buffers.
const chunkSize = 256 << 10

// Read reads an EIF from r to its end, strictly, in constant memory
// (two 256 KiB buffers plus the bounded cmdline, metadata and signature
// sections), and returns it with its measurements. In order, it checks:
//
//  1. the header: magic ".eif", version 2-4, flags 0 or [FlagARM64],
//     reserved and unused fields zero, 3-32 sections;
//  2. the section table: section i starts where section i-1 ends (the
//     first right after the header), no offset overflows, unused entries
//     are zero;
//  3. each section header: a known type, flags 0, the size given in the
//     section table, the kernel first and the cmdline second, then
//     ramdisks and at most one metadata section (version 4), then at most
//     one signature section (version 3 or later) last, at least one
//     ramdisk; cmdline, metadata and signature within [MaxCmdlineSize],
//     [MaxMetadataSize] and [MaxSignatureSize];
//  4. the metadata section is the JSON object nitro-cli writes;
//  5. the signature section decodes (one PCR signature, a PEM certificate
//     with an ECDSA P-256/P-384/P-521 key, an untagged COSE_Sign1 with
//     the matching algorithm);
//  6. the input ends right after the last section;
//  7. the CRC32 matches;
//  8. the COSE_Sign1 verifies with the certificate's key and signs PCR0
//     with the value measured.
//
// Errors match [ErrMalformed], [ErrUnsupported], [ErrCRCMismatch] or
// [ErrBadSignature], or are I/O errors from r. On error the image is nil.
func Read(r io.Reader) (*Image, error) {
	return read(r, -1)
}

// ReadAt is [Read] for an input of known size, such as a file: once the
// header is read, an image whose section table does not end exactly at
// size is refused ([TruncatedError] or [TrailingDataError]) before any
// section is read or hashed.
func ReadAt(r io.ReaderAt, size int64) (*Image, error) {
	if size < 0 {
		return nil, fmt.Errorf("eif: negative input size %d", size)
	}
	return read(io.NewSectionReader(r, 0, size), size)
}

// read is Read; size is the input's size, or -1 if unknown.
func read(r io.Reader, size int64) (*Image, error) {
	hdr := make([]byte, HeaderSize)
	if n, err := io.ReadFull(r, hdr); err != nil {
		return nil, readErr(err, &TruncatedError{Index: -1, Offset: 0, Want: HeaderSize, Got: int64(n)})
	}
	h := decodeHeader(hdr)
	if err := checkHeader(&h); err != nil {
		return nil, err
	}
	img := &Image{
		Version:       h.version,
		Flags:         h.flags,
		DefaultMemory: h.defaultMem,
		DefaultCPUs:   h.defaultCPUs,
		CRC32:         h.crc,
	}
	end, err := sectionTable(&h, img)
	if err != nil {
		return nil, err
	}
	if size >= 0 && end > size {
		last := len(img.Sections) - 1
		for last > 0 && img.Sections[last].Offset >= size {
			last--
		}
		s := img.Sections[last]
		got := max(0, size-s.Offset-SectionHeaderSize)
		return nil, &TruncatedError{Index: last, Offset: s.Offset + SectionHeaderSize + got, Want: s.Size, Got: got}
	}
	if size >= 0 && end < size {
		return nil, &TrailingDataError{Offset: end}
	}
	m := measurer{r: r, off: HeaderSize, imageHash: sha512.New384()}
	m.crc = crc32.Update(0, crc32.IEEETable, hdr[:crcOffset])
	defer m.stopApp()
	if err := m.sections(img); err != nil {
		return nil, err
	}
	// The input must end here.
	var one [1]byte
	if n, err := io.ReadFull(r, one[:]); n != 0 {
		return nil, &TrailingDataError{Offset: end}
	} else if err != io.EOF {
		return nil, err
	}
	if m.crc != h.crc {
		return nil, &CRCError{Header: h.crc, Computed: m.crc}
	}
	img.Size = end
	img.Measurements = m.measurements(img.Signature)
	if img.Signature != nil {
		if err := img.Signature.verify(img.Measurements.PCR0); err != nil {
			return nil, err
		}
	}
	return img, nil
}

func readErr(err error, trunc *TruncatedError) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return trunc
	}
	return err
}

func checkHeader(h *rawHeader) error {
	if h.magic != Magic {
		return &HeaderError{Field: "magic", Value: uint64(h.magic[0])<<24 | uint64(h.magic[1])<<16 | uint64(h.magic[2])<<8 | uint64(h.magic[3]), Reason: `not an EIF (want ".eif")`}
	}
	if h.version < 2 || h.version > CurrentVersion {
		return &VersionError{Version: h.version}
	}
	if h.flags&^FlagARM64 != 0 {
		return &HeaderError{Field: "flags", Value: uint64(h.flags), Reason: "unknown flag bits"}
	}
	if h.reserved != 0 {
		return &HeaderError{Field: "reserved", Value: uint64(h.reserved), Reason: "must be zero"}
	}
	if h.unused != 0 {
		return &HeaderError{Field: "unused", Value: uint64(h.unused), Reason: "must be zero"}
	}
	if h.numSections < 3 || h.numSections > MaxSections {
		return &HeaderError{Field: "num_sections", Value: uint64(h.numSections), Reason: "want 3 to 32 (kernel, cmdline, ramdisks, ...)"}
	}
	return nil
}

// sectionTable checks the table and fills img.Sections (types are filled
// in as the section headers are read). It returns the image's end offset.
func sectionTable(h *rawHeader, img *Image) (int64, error) {
	n := int(h.numSections)
	next := int64(HeaderSize)
	for i := 0; i < n; i++ {
		if h.offsets[i] != uint64(next) {
			reason := fmt.Sprintf("starts at %d, want %d (right after the previous section)", h.offsets[i], next)
			if h.offsets[i] < uint64(next) {
				reason = fmt.Sprintf("starts at %d, overlapping the header or the previous section (which ends at %d)", h.offsets[i], next)
			}
			return 0, &SectionError{Index: i, Offset: int64(min(h.offsets[i], math.MaxInt64)), Reason: reason}
		}
		// The room left after this section's header: none (not a
		// negative bound, which would wrap) when the previous section
		// ends within a section header of the largest offset.
		room := int64(0)
		if next <= math.MaxInt64-SectionHeaderSize {
			room = math.MaxInt64 - SectionHeaderSize - next
		}
		if next > math.MaxInt64-SectionHeaderSize || h.sizes[i] > uint64(room) {
			return 0, &SizeError{Index: i, Size: h.sizes[i], Max: room}
		}
		img.Sections = append(img.Sections, Section{Offset: next, Size: int64(h.sizes[i])})
		next += SectionHeaderSize + int64(h.sizes[i])
	}
	for i := n; i < MaxSections; i++ {
		if h.offsets[i] != 0 || h.sizes[i] != 0 {
			return 0, &HeaderError{Field: fmt.Sprintf("section_offsets/sizes[%d]", i), Value: max(h.offsets[i], h.sizes[i]), Reason: "unused section table entries must be zero"}
		}
	}
	return next, nil
}

// measurer streams the sections through the CRC and the PCR hashes.
type measurer struct {
	r   io.Reader
	off int64
	crc uint32
	// imageHash hashes kernel, cmdline and every ramdisk (PCR0); its state
	// after the first ramdisk is PCR1's digest, since PCR1's input is a
	// prefix of PCR0's.
	imageHash  hash.Hash
	bootDigest []byte
	app        *appHasher // PCR2: ramdisks after the first, in parallel
	certDigest []byte
	bufs       [2][]byte
	flip       int
}

func (m *measurer) sections(img *Image) error {
	var sawMeta, sawSig bool
	ramdisks := 0
	for i := range img.Sections {
		s := &img.Sections[i]
		var sh [SectionHeaderSize]byte
		if n, err := io.ReadFull(m.r, sh[:]); err != nil {
			return readErr(err, &TruncatedError{Index: i, Offset: m.off, Want: SectionHeaderSize, Got: int64(n)})
		}
		m.crc = crc32.Update(m.crc, crc32.IEEETable, sh[:])
		m.off += SectionHeaderSize
		typ := SectionType(uint16(sh[0])<<8 | uint16(sh[1]))
		flags := uint16(sh[2])<<8 | uint16(sh[3])
		size := uint64(sh[4])<<56 | uint64(sh[5])<<48 | uint64(sh[6])<<40 | uint64(sh[7])<<32 |
			uint64(sh[8])<<24 | uint64(sh[9])<<16 | uint64(sh[10])<<8 | uint64(sh[11])
		s.Type = typ
		secErr := func(reason string) error {
			return &SectionError{Index: i, Type: typ, Offset: s.Offset, Reason: reason}
		}
		if typ == SectionInvalid || typ > SectionMetadata {
			return &UnknownSectionError{Index: i, Type: typ, Offset: s.Offset}
		}
		if flags != 0 {
			return secErr(fmt.Sprintf("section flags %#x, want 0", flags))
		}
		if size != uint64(s.Size) {
			return secErr(fmt.Sprintf("section header size %d differs from the header's %d", size, s.Size))
		}
		if sawSig {
			return secErr("follows the signature section, which must be last")
		}
		switch {
		case i == 0 && typ != SectionKernel:
			return secErr("the first section must be the kernel")
		case i == 1 && typ != SectionCmdline:
			return secErr("the second section must be the cmdline")
		case i > 1 && (typ == SectionKernel || typ == SectionCmdline):
			return secErr(fmt.Sprintf("a second %s section", typ))
		}
		var err error
		switch typ {
		case SectionKernel:
			err = m.stream(i, s, false)
		case SectionCmdline:
			if img.Cmdline, err = m.small(i, s, MaxCmdlineSize); err == nil {
				m.imageHash.Write(img.Cmdline)
			}
		case SectionRamdisk:
			err = m.stream(i, s, ramdisks > 0)
			if err == nil && ramdisks == 0 {
				m.bootDigest = m.imageHash.Sum(nil)
			}
			ramdisks++
		case SectionMetadata:
			if sawMeta {
				return secErr("a second metadata section")
			}
			if img.Version < 4 {
				return secErr(fmt.Sprintf("a metadata section in a version %d image (added in version 4)", img.Version))
			}
			sawMeta = true
			if img.MetadataJSON, err = m.small(i, s, MaxMetadataSize); err == nil {
				img.Metadata, err = parseMetadata(img.MetadataJSON)
			}
		case SectionSignature:
			if img.Version < 3 {
				return secErr(fmt.Sprintf("a signature section in a version %d image (added in version 3)", img.Version))
			}
			sawSig = true
			var b []byte
			if b, err = m.small(i, s, MaxSignatureSize); err == nil {
				if img.Signature, err = parseSignatureSection(b); err == nil {
					d := sha512.Sum384(img.Signature.Certificate.Raw)
					m.certDigest = d[:]
				}
			}
		}
		if err != nil {
			return err
		}
	}
	if ramdisks == 0 {
		return &SectionError{Index: -1, Reason: "no ramdisk section"}
	}
	return nil
}

// small reads a section bounded by max into memory.
func (m *measurer) small(i int, s *Section, max int64) ([]byte, error) {
	if s.Size > max {
		return nil, &SizeError{Index: i, Type: s.Type, Size: uint64(s.Size), Max: max}
	}
	b := make([]byte, s.Size)
	if n, err := io.ReadFull(m.r, b); err != nil {
		return nil, readErr(err, &TruncatedError{Index: i, Type: s.Type, Offset: m.off, Want: s.Size, Got: int64(n)})
	}
	m.crc = crc32.Update(m.crc, crc32.IEEETable, b)
	m.off += s.Size
	return b, nil
}

// stream reads a kernel or ramdisk section through the CRC and imageHash,
// and through the PCR2 hash too if app is set. Each byte is read once and
// hashed once per distinct hash input: once for PCR0 and PCR1 together,
// and once more for PCR2 on a second goroutine.
func (m *measurer) stream(i int, s *Section, app bool) error {
	if m.bufs[0] == nil {
		m.bufs = [2][]byte{make([]byte, chunkSize), make([]byte, chunkSize)}
	}
	if app && m.app == nil {
		m.app = startAppHasher()
	}
	for left := s.Size; left > 0; {
		b := m.bufs[m.flip][:min(left, chunkSize)]
		m.flip ^= 1
		if n, err := io.ReadFull(m.r, b); err != nil {
			return readErr(err, &TruncatedError{Index: i, Type: s.Type, Offset: m.off - (s.Size - left), Want: s.Size, Got: s.Size - left + int64(n)})
		}
		if app {
			// The worker has taken b, so it is done with the other buffer,
			// which the next iteration fills.
			m.app.in <- b
		}
		m.crc = crc32.Update(m.crc, crc32.IEEETable, b)
		m.imageHash.Write(b)
		left -= int64(len(b))
		m.off += int64(len(b))
	}
	if app {
		m.app.sync()
	}
	return nil
}

func (m *measurer) stopApp() {
	if m.app != nil {
		close(m.app.in)
		<-m.app.done
	}
}

func (m *measurer) measurements(sig *Signature) Measurements {
	appDigest := sha512.New384().Sum(nil) // PCR2 over no ramdisk
	if m.app != nil {
		m.app.sync()
		appDigest = m.app.h.Sum(nil)
	}
	ms := Measurements{
		PCR0: pcrExtend(m.imageHash.Sum(nil)),
		PCR1: pcrExtend(m.bootDigest),
		PCR2: pcrExtend(appDigest),
	}
	if sig != nil {
		ms.PCR8 = pcrExtend(m.certDigest)
	}
	return ms
}

// appHasher hashes PCR2's input on its own goroutine. A nil chunk is a
// sync request, answered on idle once every earlier chunk is hashed.
type appHasher struct {
	h    hash.Hash
	in   chan []byte
	idle chan struct{}
	done chan struct{}
}

func startAppHasher() *appHasher {
	a := &appHasher{h: sha512.New384(), in: make(chan []byte), idle: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for b := range a.in {
			if b == nil {
				a.idle <- struct{}{}
				continue
			}
			a.h.Write(b)
		}
	}()
	return a
}

// sync waits until every chunk sent so far is hashed.
func (a *appHasher) sync() {
	a.in <- nil
	<-a.idle
}
