// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"crypto/sha512"
	"fmt"
	"hash/crc32"
	"io"
)

// Spec is what [Write] builds an image from.
type Spec struct {
	// Kernel is the kernel image (bzImage on x86_64, Image on aarch64).
	Kernel *io.SectionReader
	// Cmdline is the kernel command line, written without a terminating
	// NUL as nitro-cli does. It must not contain NUL bytes.
	Cmdline string
	// Ramdisks are the ramdisks (cpio archives), in order; at least one.
	// nitro-cli puts its bootstrap ramdisk first (measured into PCR1) and
	// the application's after it (PCR2).
	Ramdisks []*io.SectionReader
	// Metadata, if not nil, is written as the metadata section. Its
	// BuildTime is an input: nothing here reads the clock.
	Metadata *Metadata
	// ARM64 sets the header's aarch64 flag.
	ARM64 bool
	// DefaultMemory and DefaultCPUs go into the header; zero means
	// nitro-cli's defaults ([DefaultMemory], [DefaultCPUs]).
	DefaultMemory, DefaultCPUs uint64
	// Signer, if not nil, signs the image (a signature section over PCR0,
	// and PCR8 from its certificate).
	Signer *Signer
}

// Write writes the EIF described by spec to w, as nitro-cli's EifBuilder
// lays it out (kernel, cmdline, metadata, ramdisks, signature), and
// returns its measurements. The output depends only on spec: the same
// inputs give the same bytes (signatures are deterministic, RFC 6979, with
// an *ecdsa.PrivateKey). Inputs are read three times (to measure, to
// compute the CRC, to copy) and never held in memory.
func Write(w io.Writer, spec *Spec) (*Measurements, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	var meta []byte
	if spec.Metadata != nil {
		var err error
		if meta, err = spec.Metadata.encode(); err != nil {
			return nil, &SpecError{Field: "Metadata", Reason: err.Error()}
		}
		if len(meta) > MaxMetadataSize {
			return nil, &SpecError{Field: "Metadata", Reason: fmt.Sprintf("%d bytes of JSON, more than %d", len(meta), MaxMetadataSize)}
		}
	}

	// Pass 1: measure.
	ms, err := spec.measure()
	if err != nil {
		return nil, err
	}
	var sig []byte
	if spec.Signer != nil {
		if sig, err = spec.Signer.sign(ms.PCR0); err != nil {
			return nil, err
		}
		d := sha512.Sum384(spec.Signer.cert.Raw)
		ms.PCR8 = pcrExtend(d[:])
	}

	// The sections, in nitro-cli's order.
	type part struct {
		typ  SectionType
		r    *io.SectionReader
		size int64
	}
	parts := []part{
		{SectionKernel, spec.Kernel, spec.Kernel.Size()},
		{SectionCmdline, bytesReader([]byte(spec.Cmdline)), int64(len(spec.Cmdline))},
	}
	if meta != nil {
		parts = append(parts, part{SectionMetadata, bytesReader(meta), int64(len(meta))})
	}
	for _, r := range spec.Ramdisks {
		parts = append(parts, part{SectionRamdisk, r, r.Size()})
	}
	if sig != nil {
		parts = append(parts, part{SectionSignature, bytesReader(sig), int64(len(sig))})
	}
	if len(parts) > MaxSections {
		return nil, &SpecError{Field: "Ramdisks", Reason: fmt.Sprintf("%d sections, more than %d", len(parts), MaxSections)}
	}
	h := rawHeader{
		magic:       Magic,
		version:     CurrentVersion,
		defaultMem:  spec.DefaultMemory,
		defaultCPUs: spec.DefaultCPUs,
		numSections: uint16(len(parts)),
	}
	if spec.ARM64 {
		h.flags = FlagARM64
	}
	if h.defaultMem == 0 {
		h.defaultMem = DefaultMemory
	}
	if h.defaultCPUs == 0 {
		h.defaultCPUs = DefaultCPUs
	}
	off := int64(HeaderSize)
	for i, p := range parts {
		h.offsets[i] = uint64(off)
		h.sizes[i] = uint64(p.size)
		off += SectionHeaderSize + p.size
	}

	// Pass 2: the CRC, over everything but the CRC field.
	crc := crc32.NewIEEE()
	crc.Write(h.encode()[:crcOffset])
	for _, p := range parts {
		crc.Write(encodeSectionHeader(p.typ, uint64(p.size)))
		if _, err := io.Copy(crc, io.NewSectionReader(p.r, 0, p.size)); err != nil {
			return nil, fmt.Errorf("eif: reading the %s: %w", p.typ, err)
		}
	}
	h.crc = crc.Sum32()

	// Pass 3: write.
	if _, err := w.Write(h.encode()); err != nil {
		return nil, err
	}
	for _, p := range parts {
		if _, err := w.Write(encodeSectionHeader(p.typ, uint64(p.size))); err != nil {
			return nil, err
		}
		n, err := io.Copy(w, io.NewSectionReader(p.r, 0, p.size))
		if err != nil {
			return nil, err
		}
		if n != p.size {
			return nil, fmt.Errorf("eif: the %s changed size while writing", p.typ)
		}
	}
	return ms, nil
}

func bytesReader(b []byte) *io.SectionReader {
	return io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b)))
}

func (spec *Spec) check() error {
	if spec.Kernel == nil {
		return &SpecError{Field: "Kernel", Reason: "missing"}
	}
	if len(spec.Ramdisks) == 0 {
		return &SpecError{Field: "Ramdisks", Reason: "at least one ramdisk is required"}
	}
	for i, r := range spec.Ramdisks {
		if r == nil {
			return &SpecError{Field: fmt.Sprintf("Ramdisks[%d]", i), Reason: "nil"}
		}
	}
	if len(spec.Cmdline) > MaxCmdlineSize {
		return &SpecError{Field: "Cmdline", Reason: fmt.Sprintf("%d bytes, more than %d", len(spec.Cmdline), MaxCmdlineSize)}
	}
	if bytes.IndexByte([]byte(spec.Cmdline), 0) >= 0 {
		return &SpecError{Field: "Cmdline", Reason: "contains a NUL byte"}
	}
	return nil
}

// measure computes PCR0, PCR1 and PCR2 from the inputs.
func (spec *Spec) measure() (*Measurements, error) {
	image, app := sha512.New384(), sha512.New384()
	if _, err := io.Copy(image, io.NewSectionReader(spec.Kernel, 0, spec.Kernel.Size())); err != nil {
		return nil, fmt.Errorf("eif: reading the kernel: %w", err)
	}
	image.Write([]byte(spec.Cmdline))
	var boot []byte
	for i, r := range spec.Ramdisks {
		var w io.Writer = image
		if i > 0 {
			w = io.MultiWriter(image, app)
		}
		if _, err := io.Copy(w, io.NewSectionReader(r, 0, r.Size())); err != nil {
			return nil, fmt.Errorf("eif: reading ramdisk %d: %w", i, err)
		}
		if i == 0 {
			boot = image.Sum(nil)
		}
	}
	return &Measurements{
		PCR0: pcrExtend(image.Sum(nil)),
		PCR1: pcrExtend(boot),
		PCR2: pcrExtend(app.Sum(nil)),
	}, nil
}
