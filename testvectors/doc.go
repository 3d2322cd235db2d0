// SPDX-License-Identifier: Apache-2.0

// Package testvectors holds attestation documents the project generates
// itself, signed by its own emulated root (root.pem), with a manifest
// (manifest.json) of what verifying each one must give: "valid", or the
// stable error code of its one rejection path.
//
// The files are embedded in [FS]; [Load] reads the manifest and [Vector]
// turns an entry into attestation.Options. `go generate ./testvectors`
// remakes every file with a new root (gen/ holds the generator; keys are
// random, so the bytes change on every run but the manifest does not). No
// private key is kept: verification needs only root.pem.
//
// Real AWS documents are in testvectors/aws, with their provenance
// (tests find them with internal/awsvectors).
package testvectors

//go:generate go run ./gen -out .
