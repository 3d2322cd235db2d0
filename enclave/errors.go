// SPDX-License-Identifier: Apache-2.0

package enclave

import (
	"errors"
	"fmt"
)

// NSM error codes, as the device names them.
const (
	CodeInvalidArgument  = "InvalidArgument"
	CodeInvalidIndex     = "InvalidIndex"
	CodeInvalidResponse  = "InvalidResponse"
	CodeReadOnlyIndex    = "ReadOnlyIndex"
	CodeInvalidOperation = "InvalidOperation"
	CodeBufferTooSmall   = "BufferTooSmall"
	CodeInputTooLarge    = "InputTooLarge"
	CodeInternalError    = "InternalError"
)

// Sentinel errors, one per NSM error code, plus the device's absence.
var (
	ErrInvalidArgument  = errors.New("enclave: NSM: invalid argument")
	ErrInvalidIndex     = errors.New("enclave: NSM: invalid PCR index")
	ErrInvalidResponse  = errors.New("enclave: NSM: invalid response")
	ErrReadOnlyIndex    = errors.New("enclave: NSM: PCR is locked (read-only index)")
	ErrInvalidOperation = errors.New("enclave: NSM: invalid operation")
	ErrBufferTooSmall   = errors.New("enclave: NSM: buffer too small")
	ErrInputTooLarge    = errors.New("enclave: NSM: input too large")
	ErrInternal         = errors.New("enclave: NSM: internal error")
	// ErrNoDevice is matched by the error of [OpenDevice] where there is no
	// /dev/nsm (outside an enclave, or on a system other than Linux).
	ErrNoDevice = errors.New("enclave: no NSM device")
	// ErrClosed is returned by calls on a closed NSM.
	ErrClosed = errors.New("enclave: NSM is closed")
)

var codeSentinels = map[string]error{
	CodeInvalidArgument:  ErrInvalidArgument,
	CodeInvalidIndex:     ErrInvalidIndex,
	CodeInvalidResponse:  ErrInvalidResponse,
	CodeReadOnlyIndex:    ErrReadOnlyIndex,
	CodeInvalidOperation: ErrInvalidOperation,
	CodeBufferTooSmall:   ErrBufferTooSmall,
	CodeInputTooLarge:    ErrInputTooLarge,
	CodeInternalError:    ErrInternal,
}

// NSMError is an error code returned by the NSM (or the emulator) for one
// request. It matches the sentinel for Code with errors.Is (an unknown code
// matches [ErrInternal]).
type NSMError struct {
	Op   string // the request: "Attestation", "ExtendPCR", ...
	Code string // the NSM's error code, e.g. "ReadOnlyIndex"
}

func (e *NSMError) Error() string {
	return fmt.Sprintf("enclave: NSM %s: %s", e.Op, e.Code)
}

// Is reports whether target is the sentinel for e.Code.
func (e *NSMError) Is(target error) bool {
	s, ok := codeSentinels[e.Code]
	if !ok {
		s = ErrInternal
	}
	return target == s
}

// LimitError reports a request over one of the device's size limits. It
// matches [ErrInputTooLarge] for the whole request and [ErrInvalidArgument]
// for an attestation field over [MaxAttestationField].
type LimitError struct {
	Field string // "nonce", "user_data", "public_key" or "request"
	Size  int    // the size given (-1 when the request could not be encoded)
	Max   int    // the limit
}

func (e *LimitError) Error() string {
	if e.Size < 0 {
		return "enclave: NSM request cannot be encoded"
	}
	return fmt.Sprintf("enclave: NSM %s of %d bytes exceeds the device limit of %d", e.Field, e.Size, e.Max)
}

// Is matches [ErrInputTooLarge] for the whole request and
// [ErrInvalidArgument] for a single field.
func (e *LimitError) Is(target error) bool {
	if e.Field == "request" {
		return target == ErrInputTooLarge
	}
	return target == ErrInvalidArgument
}

// NoDeviceError is the error of [OpenDevice] when /dev/nsm cannot be opened.
// It matches [ErrNoDevice] with errors.Is when the device is absent.
type NoDeviceError struct {
	Path string // "/dev/nsm"
	Err  error  // the open error; nil on systems without NSM support
}

func (e *NoDeviceError) Error() string {
	msg := "no NSM device at " + e.Path + ": is this running inside a Nitro Enclave? use --nsm emulator for development"
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	return msg
}

// Is reports whether target is [ErrNoDevice].
func (e *NoDeviceError) Is(target error) bool { return target == ErrNoDevice }

// Unwrap returns the open error.
func (e *NoDeviceError) Unwrap() error { return e.Err }
