// SPDX-License-Identifier: Apache-2.0

// Package enclave is the inside of a Nitro Enclave: the Nitro Security Module
// (NSM) as a Go interface, and the real device behind it.
//
// # The NSM interface
//
// [NSM] covers the device's whole request set: attestation documents
// ([NSM.Attestation]), the PCR bank ([NSM.DescribePCR], [NSM.ExtendPCR],
// [NSM.LockPCR], [NSM.LockPCRs]), the module description ([NSM.DescribeNSM])
// and entropy ([NSM.GetRandom], and [io.Reader] to seed key generation).
//
// Two implementations exist: [OpenDevice], the real /dev/nsm through
// github.com/hf/nsm (Linux only; it fails with an error matching
// [ErrNoDevice] anywhere else), and the emulator in package
// github.com/enclavekit/enclavekit/enclave/emulator, which must be selected
// explicitly and whose documents prove nothing.
//
// # Limits
//
// Both enforce the device's limits before anything is sent: a request of at
// most [MaxRequestSize] bytes (4 KiB) once CBOR-encoded, a response of at most
// [MaxResponseSize] (12 KiB), and at most [MaxAttestationField] (1024) bytes
// each of nonce, user data and public key in an attestation request.
//
// # PCR extension
//
// The device extends a PCR with the data itself, not with its digest:
//
//	PCR_new = SHA-384(PCR_old || data)
//
// ([ExtendPCRValue]). The image measurements PCR0-PCR2 are made by the image
// builder with data that is itself a digest, hence the formula
// SHA-384(PCR || SHA-384(blob)) seen for them. PCR0-PCR15 are locked when the
// enclave boots; PCR16-PCR31 start at zero and unlocked, for applications.
//
// # Errors
//
// NSM error codes come back as *[NSMError], which matches the sentinel for its
// code with errors.Is: [ErrInvalidArgument], [ErrInvalidIndex],
// [ErrReadOnlyIndex], [ErrInvalidOperation], [ErrBufferTooSmall],
// [ErrInputTooLarge], [ErrInvalidResponse], [ErrInternal]. Limits checked
// before sending produce *[LimitError] (matching [ErrInvalidArgument] or
// [ErrInputTooLarge]).
package enclave
