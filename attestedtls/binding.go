// SPDX-License-Identifier: Apache-2.0

package attestedtls

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/enclavekit/enclavekit/internal/cborhead"
)

// Protocol constants.
const (
	// ChallengePath is the path of the attestation challenge, served by
	// [Server.Handler] on the attested listener and reserved there (never
	// passed to the application).
	ChallengePath = "/.well-known/enclavekit/attestation"
	// NonceHeader carries the client's nonce (hex) in a challenge request.
	NonceHeader = "Enclavekit-Attestation-Nonce"
	// MinNonceSize and MaxNonceSize bound a challenge nonce, in bytes.
	MinNonceSize = 16
	MaxNonceSize = 64
	// ExporterLabel is the TLS exporter label (RFC 8446 §7.5) of the value
	// a challenge document carries as user_data; the context is empty.
	ExporterLabel = "EXPORTER-enclavekit-attested-tls"
	// ExporterSize is the size of that value in bytes.
	ExporterSize = 32
	// MaxDocumentSize bounds a document in a certificate or a challenge
	// answer (the NSM caps its responses at 12 KiB).
	MaxDocumentSize = 16 << 10
	// CMWType is the media type naming a Nitro Enclaves attestation
	// document (an untagged COSE_Sign1) in the certificate's CMW record.
	CMWType = "application/vnd.enclavekit.nitro-attestation-document"
	// mediaTypeCBOR is the content type of a challenge answer.
	mediaTypeCBOR = "application/cbor"
)

// OIDExtensionCMW is id-pe-cmw (1.3.6.1.5.5.7.1.35), the X.509 extension
// of RFC 9999 (RATS Conceptual Message Wrapper) that carries the enclave's
// attestation document in its certificate.
var OIDExtensionCMW = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 35}

// cmwIndicatorEvidence is the CMW indicator bit for Evidence (bit 2).
const cmwIndicatorEvidence = 4

// KeyHash returns the SHA-256 of a DER SubjectPublicKeyInfo: the value the
// enclave's documents carry as public_key.
func KeyHash(spki []byte) []byte {
	h := sha256.Sum256(spki)
	return h[:]
}

// exporter returns the session's exporter value for a challenge document.
func exporter(cs *tls.ConnectionState) ([]byte, error) {
	return cs.ExportKeyingMaterial(ExporterLabel, nil, ExporterSize)
}

// MarshalExtensionValue returns the extnValue of the id-pe-cmw extension
// carrying doc: the CMW choice cbor (an OCTET STRING) holding the CBOR
// record [CMWType, doc, 4].
func MarshalExtensionValue(doc []byte) ([]byte, error) {
	if len(doc) > MaxDocumentSize {
		return nil, fmt.Errorf("attestedtls: document of %d bytes is over %d", len(doc), MaxDocumentSize)
	}
	rec := []byte{0x83}
	rec = cborhead.Append(rec, 3, uint64(len(CMWType)))
	rec = append(rec, CMWType...)
	rec = cborhead.Append(rec, 2, uint64(len(doc)))
	rec = append(rec, doc...)
	rec = append(rec, cmwIndicatorEvidence)
	var b cryptobyte.Builder
	b.AddASN1OctetString(rec)
	return b.Bytes()
}

// ParseExtensionValue parses the extnValue of an id-pe-cmw extension and
// returns the attestation document it carries, strictly: a DER OCTET
// STRING holding exactly the definite, minimally encoded CBOR array
// [CMWType, bstr, 4] of at most [MaxDocumentSize] document bytes, nothing
// after either. The result aliases val. Errors are *[DocumentError].
func ParseExtensionValue(val []byte) ([]byte, error) {
	bad := func(format string, a ...any) ([]byte, error) {
		return nil, &DocumentError{Reason: "id-pe-cmw extension: " + fmt.Sprintf(format, a...)}
	}
	in := cryptobyte.String(val)
	var rec cryptobyte.String
	if !in.ReadASN1(&rec, cbasn1.OCTET_STRING) || !in.Empty() {
		return bad("not a DER OCTET STRING (only the CMW cbor choice is supported)")
	}
	r := []byte(rec)
	if len(r) == 0 || r[0] != 0x83 {
		return bad("not a CBOR array of 3 (type, value, indicator)")
	}
	r = r[1:]
	major, n, r, ok := cborhead.Read(r)
	if !ok || major != 3 || n > uint64(len(r)) {
		return bad("CMW type is not a text string")
	}
	if typ := string(r[:n]); typ != CMWType {
		return bad("CMW type %q, want %q", truncate(typ), CMWType)
	}
	r = r[n:]
	major, n, r, ok = cborhead.Read(r)
	if !ok || major != 2 || n > uint64(len(r)) {
		return bad("CMW value is not a byte string")
	}
	if n > MaxDocumentSize {
		return bad("document of %d bytes is over %d", n, MaxDocumentSize)
	}
	doc := r[:n]
	r = r[n:]
	if len(r) != 1 || r[0] != cmwIndicatorEvidence {
		return bad("CMW indicator is not evidence (4), or trailing data")
	}
	if n == 0 {
		return bad("empty document")
	}
	return doc, nil
}

// DocumentFromCertificate returns the attestation document in cert's
// id-pe-cmw extension (aliasing cert.Raw). Errors are *[DocumentError]:
// no such extension, several, or a malformed one.
func DocumentFromCertificate(cert *x509.Certificate) ([]byte, error) {
	var found []byte
	for _, e := range cert.Extensions {
		if !e.Id.Equal(OIDExtensionCMW) {
			continue
		}
		if found != nil {
			return nil, &DocumentError{Reason: "id-pe-cmw extension appears more than once"}
		}
		doc, err := ParseExtensionValue(e.Value)
		if err != nil {
			return nil, err
		}
		found = doc
	}
	if found == nil {
		return nil, &DocumentError{Reason: "the certificate has no id-pe-cmw extension"}
	}
	return found, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
