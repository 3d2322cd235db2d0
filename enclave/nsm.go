// SPDX-License-Identifier: Apache-2.0

package enclave

import (
	"crypto/sha512"
	"io"

	"github.com/fxamacker/cbor/v2"
	"github.com/hf/nsm/request"
)

// Device limits, as the Linux NSM driver and the aws-nitro-enclaves-nsm-api
// define them.
const (
	// MaxRequestSize is the largest CBOR-encoded request the driver accepts.
	MaxRequestSize = 0x1000
	// MaxResponseSize is the largest response the driver returns.
	MaxResponseSize = 0x3000
	// MaxAttestationField is the largest nonce, user data or public key an
	// attestation request may carry (the CDDL's limit; real documents with
	// 1024-byte fields exist).
	MaxAttestationField = 1024
	// MaxPCRs is the number of PCRs of a Nitro Enclave's NSM.
	MaxPCRs = 32
	// PCRSize is the size of one PCR value (SHA-384).
	PCRSize = 48
	// BootLockedPCRs is the number of PCRs locked from boot: PCR0-PCR15.
	BootLockedPCRs = 16
)

// NSM is the Nitro Security Module's request set. Implementations are safe for
// concurrent use; Close must not race with other calls.
type NSM interface {
	// Attestation returns a signed attestation document (untagged COSE_Sign1
	// bytes) carrying the given nonce, user data and public key; nil means
	// absent (encoded as CBOR null). Each may be at most
	// [MaxAttestationField] bytes.
	Attestation(nonce, userData, publicKey []byte) ([]byte, error)
	// DescribePCR returns the value of PCR index and whether it is locked.
	DescribePCR(index int) (value []byte, locked bool, err error)
	// ExtendPCR sets PCR index to SHA-384(PCR || data) and returns the new
	// value; a locked PCR refuses with [ErrReadOnlyIndex].
	ExtendPCR(index int, data []byte) ([]byte, error)
	// LockPCR locks PCR index against further extension. Locking a PCR that
	// is already locked fails with [ErrReadOnlyIndex], as on the device.
	LockPCR(index int) error
	// LockPCRs locks PCRs [0, n).
	LockPCRs(n int) error
	// DescribeNSM describes the module.
	DescribeNSM() (*Description, error)
	// GetRandom returns random bytes from the module (the device returns
	// 256 per request).
	GetRandom() ([]byte, error)
	// Read fills p with entropy from the module; it never returns fewer
	// bytes without an error.
	io.Reader
	// Close releases the device.
	Close() error
}

// Description is the answer to DescribeNSM.
type Description struct {
	VersionMajor, VersionMinor, VersionPatch uint16
	// ModuleID identifies the enclave, e.g. "i-0123456789abcdef0-enc0123456789abcdef".
	ModuleID string
	// MaxPCRs is the number of PCRs (32).
	MaxPCRs int
	// LockedPCRs lists the locked PCR indices in increasing order.
	LockedPCRs []int
	// Digest is the PCR hash, "SHA384".
	Digest string
}

// ExtendPCRValue returns SHA-384(prev || data), the value a PCR holding prev
// takes when extended with data.
func ExtendPCRValue(prev, data []byte) []byte {
	h := sha512.New384()
	h.Write(prev)
	h.Write(data)
	return h.Sum(nil)
}

// CheckAttestationRequest checks an attestation request against the device's
// limits: each field at most [MaxAttestationField] bytes and the encoded
// request at most [MaxRequestSize]. Errors are *[LimitError].
func CheckAttestationRequest(nonce, userData, publicKey []byte) error {
	for _, f := range []struct {
		name string
		b    []byte
	}{{"nonce", nonce}, {"user_data", userData}, {"public_key", publicKey}} {
		if len(f.b) > MaxAttestationField {
			return &LimitError{Field: f.name, Size: len(f.b), Max: MaxAttestationField}
		}
	}
	return checkRequestSize(&request.Attestation{UserData: userData, Nonce: nonce, PublicKey: publicKey})
}

// CheckExtendRequest checks that an ExtendPCR request with data fits in
// [MaxRequestSize] once encoded. Errors are *[LimitError].
func CheckExtendRequest(index int, data []byte) error {
	if index < 0 || index > 0xFFFF {
		return &NSMError{Op: "ExtendPCR", Code: CodeInvalidIndex}
	}
	return checkRequestSize(&request.ExtendPCR{Index: uint16(index), Data: data})
}

// checkRequestSize encodes r as hf/nsm does and checks the driver's limit.
func checkRequestSize(r request.Request) error {
	b, err := cbor.Marshal(r.Encoded())
	if err != nil {
		return &LimitError{Field: "request", Size: -1, Max: MaxRequestSize}
	}
	if len(b) > MaxRequestSize {
		return &LimitError{Field: "request", Size: len(b), Max: MaxRequestSize}
	}
	return nil
}
