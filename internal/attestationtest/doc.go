// SPDX-License-Identifier: Apache-2.0

// Package attestationtest mints real, signed attestation documents from an
// emulated CA chain for other packages' tests (kms-server, enclave agent),
// as x/crypto has acmetest.
//
// A [Fixture] holds a fresh [nitroca.Chain] valid from the time given to
// [New]; [Fixture.Document] signs a document with sensible defaults that
// a test changes through a callback, and [Fixture.Options] (or
// [Fixture.Roots]) gives what attestation.Verify needs to trust it:
//
//	fx := attestationtest.New(t, now)
//	doc := fx.Document(t, func(d *attestation.Document) { d.PublicKey = spki })
//	got, err := attestation.Verify(doc, fx.Options())
//
// [Fixture.Doc] does the same without a testing.TB argument (it uses the
// one given to New), as a short form in table-driven tests.
//
// The defaults are those of a production enclave: module ID from the
// leaf, digest SHA384, timestamp = now, 16 PCRs of 48 bytes with PCR0, PCR1,
// PCR2 and PCR4 non-zero (so not debug mode), no public key, user data or
// nonce (null).
package attestationtest
