// SPDX-License-Identifier: Apache-2.0

// Package awsvectors locates the real-world test vectors kept in the
// repository under testvectors/aws: AWS-signed Nitro Enclave attestation
// documents, NitroTPM documents, documents that must be rejected, the AWS
// Nitro Enclaves root G1, and real KMS CiphertextForRecipient blobs. Each
// vector has a .json file beside it naming where it came from
// (testvectors/aws/README.md lists them).
//
// The folder is found from the module root (the directory holding go.mod,
// found by walking up from the working directory), so the tests of any
// package can use it. A missing vector fails the test: it is never a reason
// to skip.
package awsvectors
