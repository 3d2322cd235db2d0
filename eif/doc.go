// SPDX-License-Identifier: Apache-2.0

// Package eif reads, measures, verifies and writes AWS Nitro Enclave Image
// Files (EIF), without nitro-cli or Docker.
//
// [Read] parses an image strictly from an [io.Reader] in constant memory
// ([ReadAt] from a file or other input of known size, refusing a truncated
// or padded image before hashing anything),
// checks its CRC, computes the PCRs an enclave booted from it will have
// (PCR0, PCR1, PCR2, and PCR8 for a signed image) exactly as
// `nitro-cli describe-eif` does, and verifies its signature section.
// [Image.Describe] gives describe-eif's JSON shape. [Write] builds an image
// deterministically from a kernel, a command line and ramdisks, optionally
// signed by a [Signer] (nitro-cli's --signing-certificate and
// --private-key).
//
// # Sources
//
// The format has no specification. This package follows two independent
// implementations, read side by side:
//
//   - A: aws/aws-nitro-enclaves-image-format (Rust, used by nitro-cli):
//     src/defs/mod.rs (EifHeader, EifSectionHeader, EifSectionType,
//     PcrSignature, PcrInfo, EifIdentityInfo), src/defs/eif_hasher.rs
//     (EifHasher, tpm_extend_finalize_reset), src/utils/mod.rs (EifBuilder,
//     get_pcrs), src/utils/eif_reader.rs (EifReader, used by describe-eif),
//     and aws-nitro-enclaves-cli src/lib.rs (describe_eif) and
//     src/common/json_output.rs (EifDescribeInfo).
//   - Q: QEMU's nitro-enclave machine: hw/core/eif.c (read_eif_file) computes
//     the hashes, hw/i386/nitro_enclave.c (nitro_enclave_machine_reset)
//     extends the emulated NSM's PCRs with them.
//
// # Layout (A and Q agree)
//
// All integers are big-endian. The header is 548 bytes:
//
//	offset size field
//	0      4    magic ".eif" (2e 65 69 66)
//	4      2    version
//	6      2    flags (bit 0: aarch64)
//	8      8    default_mem
//	16     8    default_cpus
//	24     2    reserved
//	26     2    num_sections
//	28     256  section_offsets[32]
//	284    256  section_sizes[32]
//	540    4    unused
//	544    4    eif_crc32
//
// section_offsets[i] is the file offset of section i's 12-byte section
// header (type u16, flags u16, size u64), and its data follows.
// section_sizes[i] is the size of its data, without the section header.
// Section types: 0 invalid, 1 kernel, 2 cmdline, 3 ramdisk, 4 signature,
// 5 metadata. Versions: 2 added the CRC, 3 the signature section, 4 the
// metadata section; A writes version 4.
//
// CRC: CRC-32/IEEE (zlib's crc32, A's CRC_32_ISO_HDLC), initial value 0,
// over the first 544 header bytes, then every section header and section
// data in file order. Since sections are contiguous, that is the whole file
// but the CRC field.
//
// # Where A and Q differ, and what this package does
//
//   - Section positions: A's reader ignores section_offsets and reads
//     section headers back to back from offset 548; Q seeks to each
//     section_offsets[i] and checks that section_sizes[i] equals the
//     section header's size. Both agree on an image only when the sections
//     are contiguous in table order, so this package requires exactly
//     that, with the sizes equal, unused table entries zero and no bytes
//     after the last section (A would parse 12 trailing bytes as a section
//     header; Q ignores them).
//   - Version and flags: A's reader accepts any; Q (the revision read)
//     requires version 4 or later and flags 0, booting x86_64 images only
//     (later QEMU documentation also shows aarch64). This package accepts
//     versions 2-4 (a signature section only from 3, metadata only from 4)
//     and flags 0 or aarch64.
//   - Section flags: A writes 0; Q requires 0; so does this package.
//   - Unknown types: A refuses them and type 0; Q skips them (into the
//     CRC). This package refuses them.
//   - Required sections: Q requires one kernel, one cmdline and at least
//     one ramdisk; A checks nothing. This package requires the kernel
//     first and the cmdline second (A's builder order; the measurements
//     hash in file order in both, so order matters), then ramdisks and at
//     most one metadata section, and at most one signature section, last.
//   - Sizes: neither bounds a section before allocating it (both read each
//     section whole into memory). This package streams kernel and ramdisks
//     and bounds the cmdline ([MaxCmdlineSize]), metadata
//     ([MaxMetadataSize]) and signature ([MaxSignatureSize]).
//   - CRC: A's describe-eif reports "CheckCRC": false and goes on; Q
//     refuses the image. This package refuses it ([CRCError]).
//
// # Measurements (A and Q agree)
//
// Each PCR is extended once from its reset value (48 zero bytes) with the
// SHA-384 of the concatenation of its sections' data (section headers
// excluded), in file order:
//
//	extend(D) = SHA-384(0^48 || D)
//	PCR0 = extend(SHA-384(kernel || cmdline || ramdisk_1 || ... || ramdisk_n))
//	PCR1 = extend(SHA-384(kernel || cmdline || ramdisk_1))
//	PCR2 = extend(SHA-384(ramdisk_2 || ... || ramdisk_n))   (SHA-384 of "" when n = 1)
//	PCR8 = extend(SHA-384(DER of the signing certificate))  (signed images only)
//
// A computes these with EifHasher::new_without_cache (a plain SHA-384)
// and tpm_extend_finalize_reset (get_pcrs); Q computes the inner SHA-384s
// (image, bootstrap, app, and the certificate fingerprint) and extends the
// emulated NSM's PCRs with them. The metadata and signature sections are
// in no PCR: metadata is not authenticated by anything but the CRC.
//
// Cost: PCR1's input is a prefix of PCR0's, so one SHA-384 pass over
// kernel, cmdline and ramdisks gives both (PCR1's digest is taken after the
// first ramdisk). PCR2 hashes the ramdisks after the first a second time;
// [Read] does that on a second goroutine fed the same buffers, so each
// byte is read once, CRC'd once, and hashed once for PCR0/PCR1 and once
// more only if it is in ramdisk 2..n. CPU work is therefore at most
// 2 x SHA-384 of the image (all in ramdisks 2..n) and at least 1 x; wall
// time with two free cores stays near one SHA-384 pass. Memory is two
// 256 KiB buffers plus the three bounded sections.
//
// # Signature section (A's format; Q reads only the certificate)
//
// The section is serde_cbor's encoding of Vec<PcrSignature>: a CBOR array
// of maps {"signing_certificate": [bytes], "signature": [bytes]} whose
// values are Rust Vec<u8>, encoded as CBOR arrays of unsigned integers, not
// byte strings. A writes exactly one entry, for PCR0; A's reader and Q use
// entry 0; this package requires exactly one, with the keys in that order.
//
//   - signing_certificate is the PEM file given to nitro-cli, byte for
//     byte. A parses it with X509::from_pem (OpenSSL's PEM_read_bio_X509:
//     the first CERTIFICATE block, any text or other block before it
//     skipped, anything after it ignored) and hashes that block's DER for
//     PCR8; so does this package (a block with PEM headers is refused).
//   - signature is an untagged COSE_Sign1 (aws-nitro-enclaves-cose):
//     protected header {1: alg} with alg chosen by the key's curve (ES256
//     for P-256, ES384 for P-384, ES512 for P-521), an empty unprotected
//     header, and the payload serde_cbor's encoding of PcrInfo:
//     {"register_index": 0, "register_value": [48 integers]}, the image's
//     PCR0. The signature is r||s over the RFC 8152 Sig_structure
//     ["Signature1", protected, b"", payload].
//
// describe-eif verifies the COSE signature with the certificate's key and
// compares the payload with the encoding of {0, PCR0} byte for byte
// ("SignatureCheck"); [Read] does the same and refuses the image on failure
// ([SignatureError]). Neither checks the certificate's validity period or
// chain: PCR8 pins the certificate itself. (nitro-cli run-enclave checks
// that it has not expired; do that with [Signature.Certificate] if wanted.)
// [Write] signs deterministically (RFC 6979) and stores the certificate
// re-encoded as one canonical PEM block.
//
// # Metadata section (A only; Q skips it)
//
// serde_json's compact encoding of EifIdentityInfo:
// {"ImageName", "ImageVersion", "BuildMetadata": {"BuildTime", "BuildTool",
// "BuildToolVersion", "OperatingSystem", "KernelVersion"}, "DockerInfo",
// "CustomMetadata"}, the last two arbitrary JSON. This package requires
// exactly those keys, each once. describe-eif prints ImageName,
// ImageVersion and a "Metadata" object of the build fields, DockerInfo and
// CustomMetadata's members flattened in; [Image.Describe] does the same.
//
// # Security considerations
//
// The parent instance can hand a verifier any file: every size is checked
// against the table and the bounds before anything is allocated, a
// truncated or padded file is refused, and nothing is read past the
// declared end. A matching PCR0 proves the kernel, cmdline and ramdisks
// as one run of bytes, not where each ends: the format measures the
// sections' data concatenated (as AWS's specification and the reference
// reader do), so moving bytes across a boundary (the end of the kernel
// into the start of the cmdline, say) keeps every PCR. ImageName,
// ImageVersion and the rest of the metadata prove nothing.
package eif
