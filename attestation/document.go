// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/enclavekit/enclavekit/internal/cborhead"
)

// Limits enforced by [Parse]. Every size is checked before the value is
// decoded, and the whole input is bounded first.
const (
	// MaxDocumentSize bounds the whole COSE_Sign1 input. The NSM driver caps
	// a response at 12 KiB; the field limits below sum to less than this.
	MaxDocumentSize = 32 << 10
	// MaxModuleIDLen bounds module_id (real ones are ~40 bytes).
	MaxModuleIDLen = 256
	// MaxUserFieldLen bounds public_key, user_data and nonce (the CDDL's
	// limit; real documents with 1024-byte fields exist).
	MaxUserFieldLen = 1024
	// MaxCertificateLen bounds certificate and each cabundle entry (the
	// CDDL's cert = bytes .size (1..1024)).
	MaxCertificateLen = 1024
	// MaxCABundle bounds the number of cabundle certificates (AWS sends 4).
	MaxCABundle = 8
	// MaxPCRs bounds the number of PCRs (1 to 32, index 0 to 31).
	MaxPCRs = 32
)

// Document is a decoded Nitro Enclaves attestation document.
//
// A Document returned by [Verify] or [Verifier.Verify] passed every check;
// one returned by [Parse] passed only strict decoding and is not
// trustworthy. Certificates returned by a [Verifier] may be shared with
// other documents verified with the same chain: treat them as read-only.
type Document struct {
	// ModuleID is the issuing NSM's identifier (instance and enclave IDs).
	ModuleID string
	// Digest is the PCR hash function, always "SHA384".
	Digest string
	// Timestamp is the document's creation time (milliseconds), in UTC.
	Timestamp time.Time
	// PCRs maps each PCR index (0-31) to its value, as long as Digest's
	// output (48 bytes for SHA384).
	PCRs map[int][]byte
	// Certificate is the leaf certificate that signed the document.
	Certificate *x509.Certificate
	// CABundle is the issuing chain as in the document: [0] is the root,
	// then the regional, zonal and instance CAs.
	CABundle []*x509.Certificate
	// PublicKey, UserData and Nonce are nil when the document carries null
	// (or omits them), and empty, non-nil for a zero-length byte string.
	PublicKey []byte
	UserData  []byte
	Nonce     []byte
	// Raw is a copy of the exact COSE_Sign1 bytes given to Parse or Verify.
	Raw []byte
}

// Debug reports whether the document comes from a debug-mode enclave: PCR0,
// PCR1 and PCR2 are all zero. A missing PCR0, PCR1 or PCR2 counts as zero,
// so that a document that cannot prove otherwise is treated as debug.
func (d *Document) Debug() bool { return debugPCRs(d.PCRs) }

// debugPCRs reports whether PCR0, PCR1 and PCR2 are all zero or absent.
func debugPCRs(pcrs map[int][]byte) bool {
	for i := range 3 {
		for _, b := range pcrs[i] {
			if b != 0 {
				return false
			}
		}
	}
	return true
}

// docKind tells the two kinds of Nitro documents apart: they share the
// envelope, the chain and every field but the PCRs' key.
type docKind int

const (
	kindEnclave  docKind = iota // "pcrs": a Nitro Enclave's NSM
	kindNitroTPM                // "nitrotpm_pcrs": an EC2 instance's NitroTPM
)

// pcrsKey is the payload key that carries the PCRs of the kind.
func (k docKind) pcrsKey() string {
	if k == kindNitroTPM {
		return "nitrotpm_pcrs"
	}
	return "pcrs"
}

// rawDocument is a strictly decoded document before its certificates are
// parsed: what the warm path of a [Verifier] needs.
type rawDocument struct {
	kind      docKind
	moduleID  string
	digest    string
	timestamp uint64
	pcrs      map[int][]byte // pcrs or nitrotpm_pcrs, by kind
	leaf      []byte
	cabundle  [][]byte
	publicKey []byte
	userData  []byte
	nonce     []byte

	payload   []byte // the signed payload bytes (aliases the input)
	signature []byte // 96 bytes r||s (aliases the input)
}

// protectedES384 is the only protected header Nitro documents carry: the
// map {1: -35} (alg: ES384), exactly these four bytes.
var protectedES384 = []byte{0xa1, 0x01, 0x38, 0x22}

// cborTag18 is the one-byte head of CBOR tag 18 (COSE_Sign1).
const cborTag18 = 0xd2

// strictDecMode decodes every CBOR item of a document except the payload
// map's own head: no tags (tag 18 is stripped by hand first), no
// indefinite-length items, duplicate map keys rejected, invalid UTF-8
// rejected, undefined rejected (null is decoded to the zero value and the
// caller tells it apart), and small bounds on nesting and container sizes.
// Every container size is bounded before allocation by these limits, and
// every string by the input size (fxamacker checks well-formedness, and so
// each length against the remaining input, before decoding).
var strictDecMode = func() cbor.DecMode {
	simple, err := cbor.NewSimpleValueRegistryFromDefaults(
		cbor.WithRejectedSimpleValue(cbor.SimpleValue(23)), // undefined
	)
	if err != nil {
		panic(err)
	}
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  4,
		MaxArrayElements: 16, // the library's minimum; cabundle is checked against MaxCABundle
		MaxMapPairs:      MaxPCRs,
		UTF8:             cbor.UTF8RejectInvalid,
		SimpleValues:     simple,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// coseSign1 is the COSE_Sign1 array. fxamacker rejects an array of another
// length, and with strictDecMode any indefinite-length string or tag.
type coseSign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected cbor.RawMessage
	Payload     []byte
	Signature   []byte
}

// Parse decodes an attestation document strictly and returns it without
// any cryptographic check: its signature, chain and contents are not
// verified, so use [Verify] to trust it.
//
// The input must be a COSE_Sign1 array, untagged or with tag 18, whose
// protected header is exactly A1 01 38 22 (ES384), whose unprotected header
// is the empty map and whose signature is 96 bytes, followed by nothing.
// The payload is a definite- or indefinite-length map holding exactly the
// keys module_id, digest ("SHA384"), timestamp, pcrs, certificate,
// cabundle, and optionally public_key, user_data and nonce (null meaning
// absent), each once, with its exact type and within the Max* limits;
// every PCR is 48 bytes, the size of the digest's (SHA384) output.
// Strings must be definite-length; no other tags are allowed. A payload
// with nitrotpm_pcrs is rejected with [ErrNotEnclave], any other failure
// with [ErrMalformed] (a protected header naming another algorithm, or a
// signature of the size of ES256's or ES512's, with
// [ErrUnsupportedAlgorithm]).
func Parse(data []byte) (*Document, error) {
	return parseKind(data, kindEnclave)
}

// parseKind is the body of [Parse] and [ParseNitroTPM]: it decodes a
// document of kind and returns its fields as a Document, which
// ParseNitroTPM converts to a NitroTPMDocument (the same fields).
func parseKind(data []byte, kind docKind) (*Document, error) {
	rd, err := parseRaw(data, kind)
	if err != nil {
		return nil, err
	}
	leaf, bundle, err := parseCertificates(rd)
	if err != nil {
		return nil, err
	}
	return rd.document(data, leaf, bundle), nil
}

// document assembles the fields of a Document or, converted, of a
// NitroTPMDocument from decoded fields and parsed certificates.
func (rd *rawDocument) document(data []byte, leaf *x509.Certificate, bundle []*x509.Certificate) *Document {
	return &Document{
		ModuleID:    rd.moduleID,
		Digest:      rd.digest,
		Timestamp:   time.UnixMilli(int64(rd.timestamp)).UTC(),
		PCRs:        rd.pcrs,
		Certificate: leaf,
		CABundle:    bundle,
		PublicKey:   rd.publicKey,
		UserData:    rd.userData,
		Nonce:       rd.nonce,
		Raw:         bytes.Clone(data),
	}
}

// parseCertificates parses the leaf and the cabundle with crypto/x509.
func parseCertificates(rd *rawDocument) (*x509.Certificate, []*x509.Certificate, error) {
	leaf, err := x509.ParseCertificate(rd.leaf)
	if err != nil {
		return nil, nil, &MalformedError{Field: "certificate", Reason: err.Error()}
	}
	bundle := make([]*x509.Certificate, len(rd.cabundle))
	for i, der := range rd.cabundle {
		if bundle[i], err = x509.ParseCertificate(der); err != nil {
			return nil, nil, &MalformedError{Field: "cabundle[" + strconv.Itoa(i) + "]", Reason: err.Error()}
		}
	}
	return leaf, bundle, nil
}

// parseRaw decodes the envelope and the payload of a document of the
// given kind strictly (see [Parse] and [ParseNitroTPM]).
func parseRaw(data []byte, kind docKind) (*rawDocument, error) {
	if len(data) == 0 {
		return nil, &MalformedError{Reason: "empty input"}
	}
	if len(data) > MaxDocumentSize {
		return nil, &MalformedError{Reason: fmt.Sprintf("%d bytes, more than the %d-byte limit", len(data), MaxDocumentSize)}
	}
	in := data
	if in[0] == cborTag18 {
		in = in[1:] // the one tag allowed; strictDecMode rejects any other
	}

	// The envelope is decoded with fxamacker into a fixed array rather than
	// with go-cose: go-cose's Sign1Message accepts any header contents,
	// tagged or untagged input and indefinite lengths, which this format
	// must reject, and for the single allowed protected header the
	// Sig_structure is a constant prefix (see sigStructurePrefix).
	var msg coseSign1
	rest, err := strictDecMode.UnmarshalFirst(in, &msg)
	if err != nil {
		return nil, envelopeError(in, err)
	}
	if len(rest) != 0 {
		return nil, &MalformedError{Reason: fmt.Sprintf("%d trailing bytes after the COSE_Sign1 array", len(rest))}
	}
	if !bytes.Equal(msg.Protected, protectedES384) {
		return nil, protectedHeaderError(msg.Protected)
	}
	if !bytes.Equal(msg.Unprotected, []byte{0xa0}) {
		return nil, &MalformedError{Field: "unprotected header", Reason: "not the empty map"}
	}
	switch len(msg.Signature) {
	case 96:
	case 64, 132: // r||s sizes of ES256 and ES512: a leaf on another curve
		return nil, &AlgorithmError{Reason: fmt.Sprintf("%d-byte signature (ES256 or ES512 sized), want 96 (ES384 r||s)", len(msg.Signature))}
	default:
		return nil, &MalformedError{Field: "signature", Reason: fmt.Sprintf("%d bytes, want 96 (ES384 r||s)", len(msg.Signature))}
	}
	// Every head minimal: with the header and signature sizes fixed, the
	// canonical envelope has one length. A longer input encodes some
	// length in more bytes than it needs (98 04 for 84, 5a for 59, ...):
	// not forgeable, but it would give one document endless encodings.
	if want := 1 + 1 + len(protectedES384) + 1 + cborhead.Len(uint64(len(msg.Payload))) + len(msg.Payload) + 2 + 96; len(in) != want {
		return nil, &MalformedError{Field: "COSE_Sign1", Reason: fmt.Sprintf("%d bytes where its contents take %d: a length is not in CBOR's shortest form", len(in), want)}
	}
	rd := &rawDocument{kind: kind, payload: msg.Payload, signature: msg.Signature}
	if err := rd.decodePayload(msg.Payload); err != nil {
		return nil, err
	}
	return rd, nil
}

// envelopeError says why in is not a COSE_Sign1 array, given the CBOR
// library's error decoding it: an item other than an array of 4 elements,
// or an element other than the empty-map unprotected header that is not a
// byte string, is named with what was found.
func envelopeError(in []byte, err error) error {
	var typeErr *cbor.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		return &MalformedError{Field: "COSE_Sign1", Reason: cborReason(err, "an array of 4 elements")}
	}
	var elems []cbor.RawMessage
	if _, err := strictDecMode.UnmarshalFirst(in, &elems); err != nil || len(elems) != 4 {
		return &MalformedError{Field: "COSE_Sign1", Reason: "want an array of 4 elements, found " + describeItem(in)}
	}
	for i, name := range [...]string{0: "protected header", 2: "payload", 3: "signature"} {
		if name != "" && elems[i][0]>>5 != 2 {
			return &MalformedError{Field: name, Reason: "want a byte string, found " + describeItem(elems[i])}
		}
	}
	// Unreachable with this library; still no Go type in the message.
	return &MalformedError{Field: "COSE_Sign1", Reason: cborReason(err, "an array of 4 elements")}
}

// protectedHeaderError classifies a protected header other than exactly
// A1 01 38 22: a well-formed map whose only entry is an alg other than
// ES384 is an unsupported algorithm, anything else is malformed.
func protectedHeaderError(p []byte) error {
	var h map[int64]cbor.RawMessage
	if rest, err := strictDecMode.UnmarshalFirst(p, &h); err == nil && len(rest) == 0 && len(h) == 1 {
		if raw, ok := h[1]; ok {
			var alg int64
			if err := strictDecMode.Unmarshal(raw, &alg); err == nil && alg != -35 {
				return &AlgorithmError{Reason: fmt.Sprintf("COSE alg %d in the protected header, want -35 (ES384)", alg)}
			}
		}
	}
	shown := fmt.Sprintf("%x", p)
	switch {
	case len(p) == 0:
		shown = "empty"
	case len(p) > 16: // the sender's to write, up to the whole document
		shown = fmt.Sprintf("%x... (%d bytes)", p[:16], len(p))
	}
	return &MalformedError{Field: "protected header", Reason: shown + ", want exactly a1013822 ({1: -35}, ES384)"}
}

// Payload keys, as bits in the set of keys seen.
const (
	keyModuleID = 1 << iota
	keyDigest
	keyTimestamp
	keyPCRs
	keyCertificate
	keyCABundle
	keyPublicKey
	keyUserData
	keyNonce

	keysRequired = keyModuleID | keyDigest | keyTimestamp | keyPCRs | keyCertificate | keyCABundle
)

var payloadKeys = map[string]int{
	"module_id":   keyModuleID,
	"digest":      keyDigest,
	"timestamp":   keyTimestamp,
	"pcrs":        keyPCRs,
	"certificate": keyCertificate,
	"cabundle":    keyCABundle,
	"public_key":  keyPublicKey,
	"user_data":   keyUserData,
	"nonce":       keyNonce,
}

// maxTimestampMillis is 9999-12-31T23:59:59.999Z: later timestamps are
// malformed (and would overflow time arithmetic).
const maxTimestampMillis = 253402300799999

// decodePayload walks the payload map by hand, because its head may be
// definite (AWS until 2025) or indefinite (since), while everything inside
// it must be definite: fxamacker's IndefLengthMode cannot tell the two
// apart. Each key and value is then decoded with strictDecMode, so
// fxamacker checks types, definite lengths, duplicates within nested maps,
// tags and well-formedness; this function checks duplicate, unknown and
// missing payload keys and every field's limits.
func (rd *rawDocument) decodePayload(p []byte) error {
	if len(p) == 0 {
		return &MalformedError{Field: "payload", Reason: "empty"}
	}
	var (
		n          int // pairs, or -1 for an indefinite-length map
		rest       []byte
		headerSize int
	)
	switch b := p[0]; {
	case b >= 0xa0 && b <= 0xb7:
		n, headerSize = int(b-0xa0), 1
	case b == 0xb8 && len(p) >= 2:
		n, headerSize = int(p[1]), 2
	case b == 0xbf:
		n, headerSize = -1, 1
	default:
		return &MalformedError{Field: "payload", Reason: fmt.Sprintf("head 0x%02x is not a map of at most 255 pairs", b)}
	}
	if n > len(payloadKeys) {
		return &MalformedError{Field: "payload", Reason: fmt.Sprintf("map of %d pairs, at most %d keys exist", n, len(payloadKeys))}
	}
	rest = p[headerSize:]
	var seen int
	for i := 0; n < 0 || i < n; i++ {
		if n < 0 {
			if len(rest) == 0 {
				return &MalformedError{Field: "payload", Reason: "indefinite-length map without its break"}
			}
			if rest[0] == 0xff {
				rest = rest[1:]
				break
			}
			if i >= len(payloadKeys) {
				return &MalformedError{Field: "payload", Reason: fmt.Sprintf("more than %d pairs", len(payloadKeys))}
			}
		}
		if len(rest) == 0 {
			return &MalformedError{Field: "payload", Reason: "truncated map"}
		}
		// Keys must be text strings: reject anything else before decoding
		// (fxamacker would turn an integer key into a type error anyway, but
		// a clear message is cheap).
		if rest[0]>>5 != 3 {
			return &MalformedError{Field: "payload", Reason: fmt.Sprintf("key %d is not a text string", i)}
		}
		var key string
		var err error
		if rest, err = strictDecMode.UnmarshalFirst(rest, &key); err != nil {
			return &MalformedError{Field: "payload", Reason: "key " + strconv.Itoa(i) + ": " + cborReason(err, "a text string")}
		}
		// The PCRs' key tells the kinds apart: each verifier refuses the
		// other kind's documents with a typed error of its own.
		switch {
		case key == "nitrotpm_pcrs" && rd.kind == kindEnclave:
			return &NotEnclaveError{Field: key}
		case key == "pcrs" && rd.kind == kindNitroTPM:
			return &NotNitroTPMError{Field: key}
		}
		bit, known := payloadKeys[key]
		if key == "nitrotpm_pcrs" {
			bit, known = keyPCRs, true // only a NitroTPM document gets here
		}
		if !known {
			return &MalformedError{Field: "payload", Reason: fmt.Sprintf("unknown key %q (keys are case-sensitive)", truncate(key))}
		}
		if seen&bit != 0 {
			return &MalformedError{Field: key, Reason: "duplicate key"}
		}
		seen |= bit
		if len(rest) == 0 {
			return &MalformedError{Field: key, Reason: "missing value"}
		}
		if rest, err = rd.decodeField(key, rest); err != nil {
			return err
		}
	}
	if len(rest) != 0 {
		return &MalformedError{Field: "payload", Reason: fmt.Sprintf("%d trailing bytes after the map", len(rest))}
	}
	if missing := keysRequired &^ seen; missing != 0 {
		for _, k := range []string{"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle"} {
			if missing&payloadKeys[k] != 0 {
				if k == "pcrs" {
					k = rd.kind.pcrsKey()
				}
				return &MalformedError{Field: k, Reason: "missing"}
			}
		}
	}
	return rd.checkPCRLengths()
}

// digestSize is the size in bytes of a PCR under each digest a document
// may name (decodeField accepts "SHA384" only; the spec's 32 and 64 bytes
// would be SHA256's and SHA512's).
var digestSize = map[string]int{"SHA384": PCRSize}

// PCRSize is the length in bytes of every PCR a document may carry: the
// output of SHA-384, the only digest accepted. An expected PCR value
// ([Options].PCRs) of another length could never match and is refused
// as invalid options.
const PCRSize = 48

// checkPCRLengths checks, once the whole map is read (the keys may come in
// any order), that every PCR is as long as the digest says: 32, 48 and 64
// bytes are the spec's bound, not a choice per PCR. The lowest offending
// index is named.
func (rd *rawDocument) checkPCRLengths() error {
	want, ok := digestSize[rd.digest]
	if !ok {
		return &MalformedError{Field: "digest", Reason: fmt.Sprintf("%q, want \"SHA384\"", rd.digest)}
	}
	bad := -1
	for i, v := range rd.pcrs {
		if len(v) != want && (bad < 0 || i < bad) {
			bad = i
		}
	}
	if bad < 0 {
		return nil
	}
	return &MalformedError{Field: rd.kind.pcrsKey(),
		Reason: fmt.Sprintf("PCR%d is %d bytes, want %d (digest %s)", bad, len(rd.pcrs[bad]), want, rd.digest)}
}

// decodeField decodes the value of key at the start of in, checks it and
// returns what follows it.
func (rd *rawDocument) decodeField(key string, in []byte) (rest []byte, err error) {
	bad := func(reason string) error { return &MalformedError{Field: key, Reason: reason} }
	decodeErr := func(err error, want string) error { return bad(cborReason(err, want)) }
	// major is the CBOR major type of the value; headLenAtMost checks the
	// length of a string from its head before fxamacker allocates it.
	major := in[0] >> 5
	switch key {
	case "module_id":
		if major != 3 {
			return nil, bad("not a text string")
		}
		if !headLenAtMost(in, MaxModuleIDLen) {
			return nil, bad(fmt.Sprintf("longer than %d bytes", MaxModuleIDLen))
		}
		if rest, err = strictDecMode.UnmarshalFirst(in, &rd.moduleID); err != nil {
			return nil, decodeErr(err, "a text string")
		}
		if rd.moduleID == "" {
			return nil, bad("empty")
		}
	case "digest":
		if major != 3 {
			return nil, bad("not a text string")
		}
		if !headLenAtMost(in, 16) {
			return nil, bad(`not "SHA384"`)
		}
		if rest, err = strictDecMode.UnmarshalFirst(in, &rd.digest); err != nil {
			return nil, decodeErr(err, "a text string")
		}
		if rd.digest != "SHA384" {
			return nil, bad(fmt.Sprintf("%q, want \"SHA384\"", rd.digest))
		}
	case "timestamp":
		if major != 0 {
			return nil, bad("not an unsigned integer")
		}
		if rest, err = strictDecMode.UnmarshalFirst(in, &rd.timestamp); err != nil {
			return nil, decodeErr(err, "an unsigned integer")
		}
		if rd.timestamp == 0 || rd.timestamp > maxTimestampMillis {
			return nil, bad(fmt.Sprintf("%d ms is out of range", rd.timestamp))
		}
	case "pcrs", "nitrotpm_pcrs":
		if major != 5 {
			return nil, bad("not a map")
		}
		var pcrs map[int]cbor.RawMessage
		if rest, err = strictDecMode.UnmarshalFirst(in, &pcrs); err != nil {
			return nil, decodeErr(err, "integer keys (PCR indexes)")
		}
		if len(pcrs) == 0 || len(pcrs) > MaxPCRs {
			return nil, bad(fmt.Sprintf("%d entries, want 1 to %d", len(pcrs), MaxPCRs))
		}
		rd.pcrs = make(map[int][]byte, len(pcrs))
		for i, raw := range pcrs {
			if i < 0 || i >= MaxPCRs {
				return nil, bad(fmt.Sprintf("index %d out of range 0-%d", i, MaxPCRs-1))
			}
			if len(raw) == 0 || raw[0]>>5 != 2 || !headLenAtMost(raw, 64) {
				return nil, bad(fmt.Sprintf("PCR%d is not a byte string of 32, 48 or 64 bytes", i))
			}
			var v []byte
			if err := strictDecMode.Unmarshal(raw, &v); err != nil {
				return nil, bad(fmt.Sprintf("PCR%d: %s", i, cborReason(err, "a byte string")))
			}
			if l := len(v); l != 32 && l != 48 && l != 64 {
				return nil, bad(fmt.Sprintf("PCR%d is %d bytes, want 32, 48 or 64", i, l))
			}
			rd.pcrs[i] = v
		}
	case "certificate":
		if rest, rd.leaf, err = decodeBytes(in, 1, MaxCertificateLen); err != nil {
			return nil, bad(err.Error())
		}
	case "cabundle":
		if major != 4 {
			return nil, bad("not an array")
		}
		var certs []cbor.RawMessage
		if rest, err = strictDecMode.UnmarshalFirst(in, &certs); err != nil {
			return nil, decodeErr(err, "an array of byte strings")
		}
		if len(certs) == 0 || len(certs) > MaxCABundle {
			return nil, bad(fmt.Sprintf("%d certificates, want 1 to %d", len(certs), MaxCABundle))
		}
		rd.cabundle = make([][]byte, len(certs))
		for i, raw := range certs {
			if _, rd.cabundle[i], err = decodeBytes(raw, 1, MaxCertificateLen); err != nil {
				return nil, &MalformedError{Field: "cabundle[" + strconv.Itoa(i) + "]", Reason: err.Error()}
			}
		}
	case "public_key", "user_data", "nonce":
		var v []byte
		if in[0] != 0xf6 { // null: absent
			if rest, v, err = decodeBytes(in, 0, MaxUserFieldLen); err != nil {
				return nil, bad(err.Error())
			}
		} else {
			rest = in[1:]
		}
		switch key {
		case "public_key":
			rd.publicKey = v
		case "user_data":
			rd.userData = v
		default:
			rd.nonce = v
		}
	}
	return rest, nil
}

// decodeBytes decodes a definite-length byte string of min to max bytes at
// the start of in, checking its length from the head before decoding.
func decodeBytes(in []byte, minLen, maxLen int) (rest, v []byte, err error) {
	if len(in) == 0 || in[0]>>5 != 2 {
		return nil, nil, fmt.Errorf("not a byte string")
	}
	if !headLenAtMost(in, uint64(maxLen)) {
		return nil, nil, fmt.Errorf("longer than %d bytes", maxLen)
	}
	if rest, err = strictDecMode.UnmarshalFirst(in, &v); err != nil {
		return nil, nil, errors.New(cborReason(err, "a byte string"))
	}
	if len(v) < minLen {
		return nil, nil, fmt.Errorf("%d bytes, want at least %d", len(v), minLen)
	}
	if v == nil {
		v = []byte{}
	}
	return rest, v, nil
}

// headLenAtMost reports whether the CBOR head at the start of in carries a
// definite length (or value) of at most max. Indefinite lengths and
// truncated heads report true: strictDecMode rejects them with a precise
// error.
func headLenAtMost(in []byte, max uint64) bool {
	if len(in) > 0 && in[0]&0x1f == 27 {
		return false // 8-byte lengths never fit the limits here
	}
	n, ok := headArg(in)
	return !ok || n <= max
}

// headArg returns the argument (length, count or value) of the CBOR head at
// the start of in, and false for an indefinite length, a reserved or
// truncated head.
func headArg(in []byte) (uint64, bool) {
	if len(in) == 0 {
		return 0, false
	}
	ai := in[0] & 0x1f
	switch {
	case ai < 24:
		return uint64(ai), true
	case ai == 24 && len(in) >= 2:
		return uint64(in[1]), true
	case ai == 25 && len(in) >= 3:
		return uint64(in[1])<<8 | uint64(in[2]), true
	case ai == 26 && len(in) >= 5:
		return uint64(in[1])<<24 | uint64(in[2])<<16 | uint64(in[3])<<8 | uint64(in[4]), true
	case ai == 27 && len(in) >= 9:
		var n uint64
		for _, b := range in[1:9] {
			n = n<<8 | uint64(b)
		}
		return n, true
	}
	return 0, false
}

// describeItem names the CBOR item that starts in for a message: "a map",
// "an array of 3 elements", "null", ...
func describeItem(in []byte) string {
	if len(in) == 0 {
		return "nothing"
	}
	switch in[0] >> 5 {
	case 0:
		return "an unsigned integer"
	case 1:
		return "a negative integer"
	case 2:
		return "a byte string"
	case 3:
		return "a text string"
	case 4:
		if n, ok := headArg(in); ok {
			if n == 1 {
				return "an array of 1 element"
			}
			return fmt.Sprintf("an array of %d elements", n)
		}
		return "an indefinite-length array"
	case 5:
		return "a map"
	case 6:
		return "a tag"
	}
	switch in[0] {
	case 0xf4, 0xf5:
		return "a boolean"
	case 0xf6:
		return "null"
	case 0xf7:
		return "undefined"
	case 0xf9, 0xfa, 0xfb:
		return "a float"
	}
	return "a simple value"
}

// cborTypeNames gives the CBOR library's type names (in its
// UnmarshalTypeError) with an article, for messages.
var cborTypeNames = map[string]string{
	"positive integer":  "an unsigned integer",
	"negative integer":  "a negative integer",
	"byte string":       "a byte string",
	"UTF-8 text string": "a text string",
	"array":             "an array",
	"map":               "a map",
	"tag":               "a tag",
	"primitives":        "a simple value or a float",
}

// cborReason turns an error of the CBOR library into a reason in CBOR's
// terms: the library's messages name the Go types decoded into and its own
// options, which are neither this package's API nor meaningful to the
// sender of a document. want says what the item should have been ("a byte
// string") and is shown when the item has another type.
func cborReason(err error, want string) string {
	var (
		typeErr   *cbor.UnmarshalTypeError
		dupErr    *cbor.DupMapKeyError
		rejectErr *cbor.UnacceptableDataItemError
	)
	switch {
	case errors.As(err, &typeErr):
		found, ok := cborTypeNames[typeErr.CBORType]
		switch {
		case strings.Contains(typeErr.Error(), " overflows "):
			found = "an out-of-range integer"
		case !ok:
			found = "another type"
		}
		return "want " + want + ", found " + found
	case errors.As(err, &dupErr):
		switch k := dupErr.Key.(type) {
		case int, int64, uint64:
			return fmt.Sprintf("duplicate map key %d", k)
		case string:
			return fmt.Sprintf("duplicate map key %q", truncate(k))
		}
		return "duplicate map key"
	case errors.As(err, &rejectErr):
		return "undefined is not allowed" // the only value strictDecMode rejects
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated"
	}
	// The library's syntax and limit errors speak of CBOR only: "invalid
	// UTF-8 string", "indefinite-length array isn't allowed", "CBOR tag
	// isn't allowed", "exceeded max number of elements 16 for CBOR array".
	var (
		syntaxErr *cbor.SyntaxError
		semErr    *cbor.SemanticError
		nestErr   *cbor.MaxNestedLevelError
		arrayErr  *cbor.MaxArrayElementsError
		mapErr    *cbor.MaxMapPairsError
		indefErr  *cbor.IndefiniteLengthError
		tagErr    *cbor.TagsMdError
		extraErr  *cbor.ExtraneousDataError
	)
	if errors.As(err, &syntaxErr) || errors.As(err, &semErr) || errors.As(err, &nestErr) ||
		errors.As(err, &arrayErr) || errors.As(err, &mapErr) || errors.As(err, &indefErr) ||
		errors.As(err, &tagErr) || errors.As(err, &extraErr) {
		return strings.TrimPrefix(err.Error(), "cbor: ")
	}
	return "want " + want + ", found invalid CBOR"
}

// truncate shortens attacker-controlled text before it goes into a message.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
