// SPDX-License-Identifier: Apache-2.0

// Package sdkhttp is the HTTP client to give aws-sdk-go-v2 (as
// aws.Config.HTTPClient): it hands net/http each request body without the
// WriteTo method the SDK's body wrapper has, so that a response which
// arrives before net/http has finished with the request body cannot get its
// connection closed under it.
//
// # The race it removes
//
// smithy-go (v1.28.9 and earlier) wraps every request body in a reader
// that the SDK closes as soon as the HTTP client returns the response
// headers; after that close, its WriteTo returns io.EOF instead of (0, nil).
// net/http's Transport writes a body with a known length in two steps: it
// copies ContentLength bytes, then reads once more to check that the body
// ends there, and that second read uses WriteTo when the body has one. When
// the server answers as soon as it has the body (as the KMS servers here
// do) and the writing goroutine is scheduled late (a loaded machine), the
// SDK has already closed the body, the check gets io.EOF as an error, and
// the Transport closes the connection while the SDK is still reading the
// answer: "deserialization failed, read tcp …: use of closed network
// connection" on a 200. The SDK's standard retryer then makes the call
// again (a second KMS operation that is not idempotent); with
// aws.NopRetryer the call fails. This is aws/aws-sdk-go-v2#1825 and #2737.
//
// Without WriteTo, the check uses Read, which returns (0, io.EOF) after the
// close: the ordinary end of a body.
//
// # Users
//
// enclave/agent's Client sends its KMS calls through it (there a dropped
// connection is a new TLS handshake through the host's proxy; its
// TestClientKeepsConnection counts the connections), and every test here
// that points an SDK client at a KMS server uses it, so that the race
// cannot fail a test on a loaded machine.
package sdkhttp
