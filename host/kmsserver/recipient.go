// SPDX-License-Identifier: Apache-2.0

package kmsserver

// The Recipient parameter: attestation document verification and sealing
// the response to the enclave's key.

import (
	"encoding/hex"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
	"github.com/enclavekit/enclavekit/recipient"
)

// docVerifier verifies Recipient attestation documents with the shared
// attestation.Verifier (warm chain cache) and the server's policy.
type docVerifier struct {
	v          *attestation.Verifier
	maxAge     time.Duration
	allowDebug bool
}

func newDocVerifier(cfg *Config) (*docVerifier, error) {
	v, err := attestation.NewVerifier(&attestation.VerifierConfig{Roots: cfg.AttestationRoots})
	if err != nil {
		return nil, err
	}
	return &docVerifier{
		v:          v,
		maxAge:     cfg.MaxDocumentAge,
		allowDebug: cfg.AllowDebugEnclavesUnsafe,
	}, nil
}

// verify checks signature, chain to the configured roots, certificate
// validity and freshness at now, and debug mode unless allowed, with the
// verifier of the document's kind (see recipientKind): the enclave one, or
// the NitroTPM one for a document that carries nitrotpm_pcrs and no pcrs.
// The kind is decided once, before verification, and an error of the
// chosen verifier is final: nothing falls back to the other. PCRs are not
// checked here: key policies decide about them.
func (d *docVerifier) verify(doc []byte, now time.Time) (*attestedRecipient, error) {
	opts := attestation.Options{CurrentTime: now, MaxAge: d.maxAge, AllowDebugUnsafe: d.allowDebug}
	if recipientKind(doc) == kindNitroTPM {
		tpm, err := d.v.VerifyNitroTPM(doc, opts)
		if err != nil {
			return nil, err
		}
		return &attestedRecipient{nitroTPM: tpm}, nil
	}
	enc, err := d.v.Verify(doc, opts)
	if err != nil {
		return nil, err
	}
	return &attestedRecipient{enclave: enc}, nil
}

// attestedRecipient is the verified attestation document of a Recipient:
// exactly one of enclave (a Nitro Enclave's) and nitroTPM (an EC2
// instance's NitroTPM) is set. Each kind presents its own condition keys
// only, so a policy written for one kind never admits the other.
type attestedRecipient struct {
	enclave  *attestation.Document
	nitroTPM *attestation.NitroTPMDocument
}

// publicKey is the document's public_key (nil when null).
func (a *attestedRecipient) publicKey() []byte {
	if a.nitroTPM != nil {
		return a.nitroTPM.PublicKey
	}
	return a.enclave.PublicKey
}

// addConditionKeys adds the document's condition keys that the policies
// ps read to ctx: ImageSha384 and PCR<n> for an enclave, NitroTPMPCR<n>
// for a NitroTPM, and always the PCR of the lowest index, which tells the
// policies' reasons which kind of document was presented (see
// policy.AddAttestationFor). Only ps may decide on the result.
func (a *attestedRecipient) addConditionKeys(ctx map[string][]string, ps ...*policy.Policy) map[string][]string {
	if a.nitroTPM != nil {
		return policy.AddNitroTPMAttestationFor(ctx, a.nitroTPM.PCRs, ps...)
	}
	return policy.AddAttestationFor(ctx, a.enclave.PCRs, ps...)
}

// auditRecord is what the audit log says of the document, as CloudTrail
// does: the module, and the enclave image digest or the NitroTPM PCRs.
func (a *attestedRecipient) auditRecord() any {
	if a.nitroTPM != nil {
		pcrs := make(map[int]string, len(a.nitroTPM.PCRs))
		for i, v := range a.nitroTPM.PCRs {
			if i >= 0 && i <= policy.MaxNitroTPMPCR {
				pcrs[i] = hex.EncodeToString(v)
			}
		}
		return &auditNitroTPMRecipient{moduleID: a.nitroTPM.ModuleID, pcrs: pcrs}
	}
	return &auditRecipient{
		AttestationDocumentModuleID:           a.enclave.ModuleID,
		AttestationDocumentEnclaveImageDigest: hex.EncodeToString(a.enclave.PCRs[0]),
	}
}

// docKind is the kind of Nitro attestation document a Recipient carries.
type docKind uint8

const (
	kindEnclave  docKind = iota // "pcrs": a Nitro Enclave's
	kindNitroTPM                // "nitrotpm_pcrs": an EC2 instance's NitroTPM
)

// kindDecMode only routes (see recipientKind): bounded, duplicate map keys
// refused; the verifier then decodes strictly.
var kindDecMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
		MaxNestedLevels:   8,
		MaxArrayElements:  64,
		MaxMapPairs:       64,
	}.DecMode()
	if err != nil {
		panic("kmsserver: " + err.Error()) // constant options
	}
	return dm
}()

// recipientKind decides from the document's own shape which verifier it
// goes to: kindNitroTPM exactly when its COSE_Sign1 payload is a map with
// the key nitrotpm_pcrs and without the key pcrs (exact, case-sensitive
// keys); anything else, undecodable input included, is kindEnclave, whose
// verifier refuses nitrotpm_pcrs (not_enclave) and reports malformed input
// as before. The choice cannot admit a document under the wrong rules:
// each strict verifier refuses the other kind's PCRs key wherever it
// appears, so a routing mistake can only turn into a rejection.
func recipientKind(doc []byte) docKind {
	if len(doc) == 0 || len(doc) > attestation.MaxDocumentSize {
		return kindEnclave
	}
	if doc[0] == 0xd2 { // tag 18, COSE_Sign1
		doc = doc[1:]
	}
	var msg struct {
		_           struct{} `cbor:",toarray"`
		Protected   cborSkip
		Unprotected cborSkip
		Payload     kindPayload
		Signature   cborSkip
	}
	if err := kindDecMode.Unmarshal(doc, &msg); err != nil {
		return kindEnclave
	}
	if msg.Payload.NitroTPM && !msg.Payload.PCRs {
		return kindNitroTPM
	}
	return kindEnclave
}

// kindPayload is the COSE_Sign1 payload as recipientKind reads it: whether
// the map it holds has the keys pcrs and nitrotpm_pcrs. It decodes the map
// where it lies in the document, without the copy of the ~4.5 KB byte
// string that a []byte field would make; a payload that does not decode
// fails the whole document's decoding, as it did as a []byte.
type kindPayload struct {
	PCRs     cborPresent `cbor:"pcrs"`
	NitroTPM cborPresent `cbor:"nitrotpm_pcrs"`
}

// UnmarshalCBOR implements cbor.Unmarshaler. data is the payload item,
// which the decoder has checked is well-formed; nothing of it is kept.
func (p *kindPayload) UnmarshalCBOR(data []byte) error {
	content, ok := byteStringContent(data)
	if !ok {
		// Not a definite-length byte string (indefinite length, null,
		// another type): decode it as the []byte field did.
		var b []byte
		if err := kindDecMode.Unmarshal(data, &b); err != nil {
			return err
		}
		content = b
	}
	type fields kindPayload // without this method
	return kindDecMode.Unmarshal(content, (*fields)(p))
}

// byteStringContent returns the content of a well-formed CBOR item that is
// a definite-length byte string (major type 2): the bytes after its head,
// whose length the head states. ok is false for any other item.
func byteStringContent(item []byte) (content []byte, ok bool) {
	if len(item) == 0 || item[0]>>5 != 2 {
		return nil, false
	}
	var n uint64
	head := 1
	switch ai := item[0] & 0x1f; {
	case ai < 24:
		n = uint64(ai)
	case ai <= 27: // 1, 2, 4 or 8 bytes of length follow
		size := 1 << (ai - 24)
		if len(item) < 1+size {
			return nil, false
		}
		for _, b := range item[1 : 1+size] {
			n = n<<8 | uint64(b)
		}
		head += size
	default: // 31: indefinite length; 28-30: reserved
		return nil, false
	}
	if uint64(len(item)-head) != n {
		return nil, false
	}
	return item[head:], true
}

// cborSkip takes one data item and keeps nothing of it; the decoder has
// checked that it is well-formed (as for cbor.RawMessage, without its copy).
type cborSkip struct{}

// UnmarshalCBOR implements cbor.Unmarshaler.
func (*cborSkip) UnmarshalCBOR([]byte) error { return nil }

// cborPresent records that a map key is present, whatever its value (null
// included, as a non-nil cbor.RawMessage would), without copying the value.
type cborPresent bool

// UnmarshalCBOR implements cbor.Unmarshaler.
func (p *cborPresent) UnmarshalCBOR([]byte) error {
	*p = true
	return nil
}

type recipientInfo struct {
	KeyEncryptionAlgorithm string `json:"KeyEncryptionAlgorithm"`
	AttestationDocument    []byte `json:"AttestationDocument"`
}

// checkRecipient verifies a Recipient parameter: algorithm, attestation
// document (signature, chain to the configured roots, freshness; a Nitro
// Enclave's or an EC2 instance's NitroTPM document), and an RSA public key
// of 2048 to 4096 bits. nil ri gives nil.
func (s *Server) checkRecipient(c *call, ri *recipientInfo) (*attestedRecipient, error) {
	if ri == nil {
		return nil, nil
	}
	if ri.KeyEncryptionAlgorithm != "RSAES_OAEP_SHA_256" {
		return nil, validation("1 validation error detected: Value '%s' at 'recipient.keyEncryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_OAEP_SHA_256]", ri.KeyEncryptionAlgorithm)
	}
	if len(ri.AttestationDocument) == 0 {
		return nil, validation("Recipient.AttestationDocument is required")
	}
	doc, err := s.verifier.verify(ri.AttestationDocument, c.now)
	if err != nil {
		msg := err.Error()
		if s.cfg.AttestationMessage != nil {
			msg = s.cfg.AttestationMessage(err)
		}
		return nil, validation("The attestation document in Recipient is not valid (%s): %s", attestation.ErrorCode(err), msg)
	}
	c.ev.AdditionalEventData = &additionalEventData{Recipient: doc.auditRecord()}
	pub := doc.publicKey()
	if len(pub) == 0 {
		return nil, validation("The attestation document in Recipient has no public_key")
	}
	// Exactly the checks recipient.Seal applies, so a key it would refuse is
	// the caller's ValidationException here, before any key is used.
	if _, err := recipient.ParsePublicKey(pub); err != nil {
		return nil, validation("The public_key of the attestation document must be an RSA key of 2048 to 4096 bits with an odd exponent of at least 65537: %v", err)
	}
	return doc, nil
}

// forRecipient encrypts plaintext to the attested public key.
func (s *Server) forRecipient(doc *attestedRecipient, plaintext []byte) ([]byte, error) {
	return recipient.Seal(doc.publicKey(), plaintext, s.rand)
}
