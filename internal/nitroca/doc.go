// SPDX-License-Identifier: Apache-2.0

// Package nitroca mints certificate chains shaped like the ones the AWS
// Nitro Security Module puts in attestation documents, for the NSM
// emulator, the project's test vectors and tests.
//
// # Shape
//
// A [Chain] has the same five levels as AWS's, with the same key type
// (ECDSA P-384), signature algorithm (ECDSA with SHA-384), extensions and
// lifetimes, but names of its own (O=enclavekit emulator,
// CN=…emulator.nitro-enclaves) so nobody mistakes it for AWS's:
//
//	root       CA:TRUE (no path length), keyUsage digitalSignature, keyCertSign, cRLSign; 30 years
//	regional   CA:TRUE pathlen 2, same key usage; 20 days
//	zonal      CA:TRUE pathlen 1, same key usage; 6 days
//	instance   CA:TRUE pathlen 0, keyUsage keyCertSign; 1 day
//	leaf       CA:FALSE, keyUsage digitalSignature, nonRepudiation; exactly 3 hours
//
// Every validity period starts at the issuing time given by the caller
// (truncated to the second, as X.509 encodes it). [Chain.Signer] returns an
// [attestation.Signer] for the leaf with the bundle in AWS's order.
//
// # Roots
//
// A [Root] is a self-signed CA and its private key. [NewRoot] makes one,
// [Root.Save] and [LoadRoot] persist it as PEM (certificate) and PKCS#8 PEM
// (key), so an emulator can keep one root across runs and a relying party
// can trust it with --root; [Root.IssueChain] issues a fresh chain under it.
//
// # Broken chains
//
// [Options] makes chains a verifier must reject: a leaf on P-256 or P-521,
// an instance CA without CA basic constraints, a leaf valid only at other
// times. They exist for negative test vectors.
//
// Nothing here is fit to protect anything: the emulated root is trusted
// only by whoever is explicitly given it.
package nitroca
