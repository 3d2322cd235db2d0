// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"bytes"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
)

// TestParentOversizedCertificate is a parent that terminates TLS with a
// certificate made to cost the client: an id-pe-cmw extension holding a
// 100 KiB "document", and one with 200 extensions of 1 KiB besides the
// enclave's genuine one. The client refuses the first with a
// *DocumentError before parsing the document (MaxDocumentSize), the second
// on the key binding; crypto/tls bounds a server's certificate message
// (256 KiB) before either. It passes on the code it was written against:
// it pins the bounds.
func TestParentOversizedCertificate(t *testing.T) {
	e := newEnclave(t, "app")
	cl := newClient(t, policy(e.emu, "app"))

	// Encoded by hand: MarshalExtensionValue refuses documents over
	// MaxDocumentSize.
	huge := cmwValue(t, bytes.Repeat([]byte{0x84}, 100<<10))
	err := handshake(t, serveParent(t, parentCert(t, pkix.Extension{Id: attestedtls.OIDExtensionCMW, Value: huge})), cl.TLSConfig())
	var de *attestedtls.DocumentError
	if !errors.As(err, &de) || !errors.Is(err, attestedtls.ErrNoDocument) || !strings.Contains(de.Reason, "over") {
		t.Fatalf("100 KiB document: %v, want a *DocumentError saying it is over the bound", err)
	}

	exts := []pkix.Extension{enclaveExtension(t, e.addr)}
	for i := range 200 {
		exts = append(exts, pkix.Extension{Id: []int{1, 3, 6, 1, 4, 1, 99999, i + 1}, Value: bytes.Repeat([]byte{0x04}, 1<<10)})
	}
	err = handshake(t, serveParent(t, parentCert(t, exts...)), cl.TLSConfig())
	t.Logf("200 KiB of extensions: %v", err)
	wantCode(t, err, attestation.CodePublicKeyMismatch, attestedtls.ErrKeyNotBound)
}

// cmwValue encodes the id-pe-cmw extnValue for doc whatever its size: a
// DER OCTET STRING holding the CBOR array [CMWType, doc, 4].
func cmwValue(t *testing.T, doc []byte) []byte {
	t.Helper()
	rec := []byte{0x83, 0x78, byte(len(attestedtls.CMWType))}
	rec = append(rec, attestedtls.CMWType...)
	rec = append(rec, 0x5a, byte(len(doc)>>24), byte(len(doc)>>16), byte(len(doc)>>8), byte(len(doc)))
	rec = append(rec, doc...)
	rec = append(rec, 4)
	n := len(rec)
	return append([]byte{0x04, 0x83, byte(n >> 16), byte(n >> 8), byte(n)}, rec...)
}
