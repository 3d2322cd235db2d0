// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"encoding/binary"
	"fmt"
)

// Layout constants of the EIF container (see the package documentation).
const (
	// HeaderSize is the size of the EIF header in bytes.
	HeaderSize = 548
	// SectionHeaderSize is the size of a section header in bytes.
	SectionHeaderSize = 12
	// MaxSections is the number of entries in the header's section table.
	MaxSections = 32
	// CurrentVersion is the version this package writes (nitro-cli's
	// CURRENT_VERSION: 2 added the CRC, 3 the signature section, 4 the
	// metadata section).
	CurrentVersion = 4
	// FlagARM64 is the header flag bit set for aarch64 images; it is the
	// only header flag defined.
	FlagARM64 = 0x1
	// DefaultMemory and DefaultCPUs are the header defaults nitro-cli
	// writes (1 GiB, 2 vCPUs); the loader ignores them.
	DefaultMemory = 1 << 30
	DefaultCPUs   = 2
	// crcOffset is the offset of the header's CRC field, the last 4 bytes.
	crcOffset = HeaderSize - 4
)

// Magic is the first four bytes of every EIF.
var Magic = [4]byte{'.', 'e', 'i', 'f'}

// Bounds on the sections this package holds in memory. Kernel and ramdisk
// sections are streamed and bounded only by the input.
const (
	// MaxCmdlineSize bounds the cmdline section (Linux allows 2048 bytes on
	// x86_64 and arm64; this leaves room).
	MaxCmdlineSize = 64 << 10
	// MaxMetadataSize bounds the metadata section (JSON).
	MaxMetadataSize = 1 << 20
	// MaxSignatureSize bounds the signature section (CBOR; a certificate
	// and a COSE_Sign1, each byte encoded in one or two CBOR bytes).
	MaxSignatureSize = 256 << 10
)

// SectionType is the type field of a section header.
type SectionType uint16

// Section types, as numbered by aws-nitro-enclaves-image-format
// (EifSectionType) and QEMU (EIF_SECTION_*).
const (
	SectionInvalid   SectionType = 0
	SectionKernel    SectionType = 1
	SectionCmdline   SectionType = 2
	SectionRamdisk   SectionType = 3
	SectionSignature SectionType = 4
	SectionMetadata  SectionType = 5
)

// String returns the section type's name ("kernel", "cmdline", ...).
func (t SectionType) String() string {
	switch t {
	case SectionInvalid:
		return "invalid"
	case SectionKernel:
		return "kernel"
	case SectionCmdline:
		return "cmdline"
	case SectionRamdisk:
		return "ramdisk"
	case SectionSignature:
		return "signature"
	case SectionMetadata:
		return "metadata"
	}
	return fmt.Sprintf("unknown(%d)", uint16(t))
}

// Section is one entry of an image's section table.
type Section struct {
	// Type is the section's type.
	Type SectionType
	// Offset is the file offset of the section's 12-byte header; its data
	// follows at Offset+SectionHeaderSize.
	Offset int64
	// Size is the size of the section's data (without its header).
	Size int64
}

// rawHeader is the decoded EIF header, field for field.
type rawHeader struct {
	magic       [4]byte
	version     uint16
	flags       uint16
	defaultMem  uint64
	defaultCPUs uint64
	reserved    uint16
	numSections uint16
	offsets     [MaxSections]uint64
	sizes       [MaxSections]uint64
	unused      uint32
	crc         uint32
}

func decodeHeader(b []byte) rawHeader {
	var h rawHeader
	copy(h.magic[:], b[0:4])
	be := binary.BigEndian
	h.version = be.Uint16(b[4:])
	h.flags = be.Uint16(b[6:])
	h.defaultMem = be.Uint64(b[8:])
	h.defaultCPUs = be.Uint64(b[16:])
	h.reserved = be.Uint16(b[24:])
	h.numSections = be.Uint16(b[26:])
	p := 28
	for i := range h.offsets {
		h.offsets[i] = be.Uint64(b[p:])
		p += 8
	}
	for i := range h.sizes {
		h.sizes[i] = be.Uint64(b[p:])
		p += 8
	}
	h.unused = be.Uint32(b[p:])
	h.crc = be.Uint32(b[p+4:])
	return h
}

func (h *rawHeader) encode() []byte {
	b := make([]byte, 0, HeaderSize)
	be := binary.BigEndian
	b = append(b, h.magic[:]...)
	b = be.AppendUint16(b, h.version)
	b = be.AppendUint16(b, h.flags)
	b = be.AppendUint64(b, h.defaultMem)
	b = be.AppendUint64(b, h.defaultCPUs)
	b = be.AppendUint16(b, h.reserved)
	b = be.AppendUint16(b, h.numSections)
	for _, o := range h.offsets {
		b = be.AppendUint64(b, o)
	}
	for _, s := range h.sizes {
		b = be.AppendUint64(b, s)
	}
	b = be.AppendUint32(b, h.unused)
	b = be.AppendUint32(b, h.crc)
	return b
}

func encodeSectionHeader(t SectionType, size uint64) []byte {
	b := make([]byte, 0, SectionHeaderSize)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	b = binary.BigEndian.AppendUint16(b, 0)
	return binary.BigEndian.AppendUint64(b, size)
}
