// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"fmt"
	"net/http"
)

// APIError is an error answered to the client in KMS's JSON shape:
// {"__type": Code, "message": Message}, with HTTP status Status and the
// X-Amzn-ErrorType header set to Code.
type APIError struct {
	Code    string // KMS's exception name, e.g. "NotFoundException"
	Message string
	Status  int // HTTP status
}

func (e *APIError) Error() string { return "kmsserver: " + e.Code + ": " + e.Message }

// KMS's exception names used by the server.
const (
	CodeAccessDenied           = "AccessDeniedException"
	CodeAlreadyExists          = "AlreadyExistsException"
	CodeDependencyTimeout      = "DependencyTimeoutException"
	CodeDisabled               = "DisabledException"
	CodeDryRunOperation        = "DryRunOperationException"
	CodeIncorrectKey           = "IncorrectKeyException"
	CodeIncompleteSignature    = "IncompleteSignatureException"
	CodeInvalidAliasName       = "InvalidAliasNameException"
	CodeInvalidArn             = "InvalidArnException"
	CodeInvalidCiphertext      = "InvalidCiphertextException"
	CodeInvalidKeyUsage        = "InvalidKeyUsageException"
	CodeInvalidMarker          = "InvalidMarkerException"
	CodeInvalidSignature       = "InvalidSignatureException"
	CodeLimitExceeded          = "LimitExceededException"
	CodeInvalidGrantID         = "InvalidGrantIdException"
	CodeInvalidGrantToken      = "InvalidGrantTokenException"
	CodeTag                    = "TagException"
	CodeThrottling             = "ThrottlingException"
	CodeInvalidState           = "KMSInvalidStateException"
	CodeInternal               = "KMSInternalException"
	CodeMalformedPolicy        = "MalformedPolicyDocumentException"
	CodeMissingAuthToken       = "MissingAuthenticationTokenException"
	CodeNotFound               = "NotFoundException"
	CodeSerialization          = "SerializationException"
	CodeUnknownOperation       = "UnknownOperationException"
	CodeUnrecognizedClient     = "UnrecognizedClientException"
	CodeUnsupportedOperation   = "UnsupportedOperationException"
	CodeValidation             = "ValidationException"
	CodeRequestEntityTooLarge  = "RequestEntityTooLargeException"
	statusDryRun               = http.StatusPreconditionFailed // KMS answers DryRunOperationException with 412
	statusInternal             = http.StatusInternalServerError
	statusClient               = http.StatusBadRequest
	statusRequestEntityTooLage = http.StatusRequestEntityTooLarge
)

// CodeClientClosedRequest is the outcome of a request whose client closed
// its connection before the answer (nginx's 499 "client closed request"):
// not a KMS exception, as no client reads it. It takes the place of an
// error code in the audit line (errorCode, decision "error"), the log (at
// INFO) and the metrics (kms_requests_total's code), so that a client
// hanging up, which anyone can do at will, is told apart from the
// server's own failures (KMSInternalException).
const CodeClientClosedRequest = "ClientClosedRequest"

// statusClientClosedRequest is written with [CodeClientClosedRequest]
// (nginx's 499) for the rare client that half-closed its connection and
// still reads.
const statusClientClosedRequest = 499

func apiErr(code string, format string, args ...any) *APIError {
	st := statusClient
	switch code {
	case CodeInternal:
		st = statusInternal
	case CodeDependencyTimeout:
		st = http.StatusServiceUnavailable
	case CodeDryRunOperation:
		st = statusDryRun
	case CodeRequestEntityTooLarge:
		st = statusRequestEntityTooLage
	case CodeClientClosedRequest:
		st = statusClientClosedRequest
	}
	return &APIError{Code: code, Message: fmt.Sprintf(format, args...), Status: st}
}

func validation(format string, args ...any) *APIError {
	return apiErr(CodeValidation, format, args...)
}

func internalErr() *APIError {
	return apiErr(CodeInternal, "internal error, see the server log")
}
