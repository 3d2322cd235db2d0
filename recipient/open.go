// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/enclavekit/enclavekit/internal/ber"
)

// MaxEnvelopeSize is the largest envelope [Open] reads. KMS returns at most
// 6144 bytes; the margin is for other senders (OpenSSL) and larger content.
const MaxEnvelopeSize = 64 << 10

// envLimits bound the BER reader: the deepest path in a valid envelope is
// 11 levels (ContentInfo down to the MGF1 hash OID), the most elements those
// of a finely chunked content.
var envLimits = ber.Limits{MaxInput: MaxEnvelopeSize, MaxDepth: 16, MaxElements: 8192}

// Object identifier contents octets.
var (
	oidEnvelopedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03} // 1.2.840.113549.1.7.3
	oidData          = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01} // 1.2.840.113549.1.7.1
	oidRSAESOAEP     = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07} // 1.2.840.113549.1.1.7
	oidMGF1          = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08} // 1.2.840.113549.1.1.8
	oidPSpecified    = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x09} // 1.2.840.113549.1.1.9
	oidSHA256        = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01} // 2.16.840.1.101.3.4.2.1
	oidAES256CBC     = []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a} // 2.16.840.1.101.3.4.1.42
)

// Open decrypts an envelope made by [Seal], AWS KMS (CiphertextForRecipient)
// or OpenSSL (cms -encrypt -keyid with RSA-OAEP-SHA-256 and AES-256-CBC) for
// priv, and returns the plaintext. It checks, in order:
//
//  1. priv is an RSA key of 2048 to 4096 bits ([ErrUnsupportedKey]);
//  2. blob is at most [MaxEnvelopeSize] bytes of BER, complete
//     ([ErrTruncated]), with nothing after it, and is a ContentInfo of type
//     id-envelopedData holding EnvelopedData version 2 with no
//     originatorInfo and no unprotectedAttrs;
//  3. RecipientInfos holds exactly one KeyTransRecipientInfo, version 2,
//     whose rid is a subjectKeyIdentifier;
//  4. keyEncryptionAlgorithm is rsaesOaep with hashAlgorithm sha256 and
//     maskGenAlgorithm mgf1(sha256) (parameters absent or NULL) and an empty
//     label;
//  5. EncryptedContentInfo has content type id-data, contentEncryptionAlgorithm
//     aes256-CBC with a 16-byte IV, and encryptedContent present (primitive,
//     or constructed in any number of OCTET STRING segments), a positive
//     multiple of 16 bytes long;
//  6. the rid equals [SubjectKeyID] of priv's public key
//     ([RecipientMismatchError]), and encryptedKey is as long as priv's
//     modulus;
//  7. RSA-OAEP decryption succeeds ([ErrDecrypt]) and yields a 32-byte key;
//  8. the AES-256-CBC plaintext ends in valid PKCS #7 padding, checked in
//     constant time ([ErrBadPadding]).
//
// Failures in 2 to 7 that are not named are [FormatError] values matching
// [ErrMalformed] (and [ErrUnsupported] for valid CMS this package does not
// accept). The content-encryption key is zeroed before Open returns, and
// so is the decrypted buffer when the padding is bad.
//
// The content of an envelope is not authenticated: see the package's
// Security considerations.
func Open(priv *rsa.PrivateKey, blob []byte) ([]byte, error) {
	if priv == nil {
		return nil, &KeyError{Reason: "no key"}
	}
	if err := checkKey(&priv.PublicKey); err != nil {
		return nil, err
	}
	env, err := parse(blob)
	if err != nil {
		return nil, err
	}
	ski := sha256.Sum256(marshalSPKI(&priv.PublicKey))
	if !bytes.Equal(env.ski, ski[:]) {
		return nil, &RecipientMismatchError{Envelope: bytes.Clone(env.ski), Key: ski[:]}
	}
	if k := priv.Size(); len(env.encryptedKey) != k {
		return nil, &FormatError{Offset: -1, Field: "encryptedKey",
			Reason: strconv.Itoa(len(env.encryptedKey)) + " bytes, want " + strconv.Itoa(k) +
				" for this RSA-" + strconv.Itoa(priv.N.BitLen()) + " key"}
	}

	cek, err := rsa.DecryptOAEP(sha256.New(), nil, priv, env.encryptedKey, nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	defer clear(cek)
	if len(cek) != cekSize {
		return nil, &FormatError{Offset: -1, Field: "encryptedKey",
			Reason: "content-encryption key of " + strconv.Itoa(len(cek)) + " bytes, want 32 for aes256-CBC"}
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, ErrDecrypt
	}

	buf := make([]byte, env.contentLen)
	n := 0
	if err := env.content.Segments(func(seg []byte) { n += copy(buf[n:], seg) }); err != nil {
		return nil, berError(err, "encryptedContent") // unreachable: parse walked the segments
	}
	cipher.NewCBCDecrypter(block, env.iv).CryptBlocks(buf, buf)
	m, ok := unpad(buf)
	if !ok {
		clear(buf)
		return nil, ErrBadPadding
	}
	return buf[:m:m], nil
}

// unpad returns the length of buf without its PKCS #7 padding, and whether
// the padding is valid, in time independent of the contents: it always
// reads the whole last block. len(buf) must be a positive multiple of 16.
func unpad(buf []byte) (int, bool) {
	last := buf[len(buf)-blockSize:]
	n := int(last[blockSize-1])
	good := subtle.ConstantTimeLessOrEq(1, n) & subtle.ConstantTimeLessOrEq(n, blockSize)
	for i := 1; i <= blockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, n)
		eq := subtle.ConstantTimeByteEq(last[blockSize-i], byte(n))
		good &= subtle.ConstantTimeSelect(inPad, eq, 1)
	}
	return subtle.ConstantTimeSelect(good, len(buf)-n, len(buf)), good == 1
}

// envelope is what Open needs from a parsed envelope; the slices alias it.
type envelope struct {
	ski          []byte
	encryptedKey []byte
	iv           []byte
	content      ber.Element // encryptedContent, primitive or segmented
	contentLen   int
}

// parse checks the structure of blob (steps 2 to 5 of Open).
func parse(blob []byte) (*envelope, error) {
	top, err := ber.Parse(blob, envLimits)
	if err != nil {
		return nil, berError(err, "ContentInfo")
	}
	if !top.Is(ber.ClassUniversal, ber.TagSequence, true) {
		return nil, unexpected(top, "ContentInfo", "SEQUENCE")
	}
	ci, err := children(top, "ContentInfo")
	if err != nil {
		return nil, err
	}
	if err := expectOID(&ci, "ContentInfo.contentType", oidEnvelopedData); err != nil {
		return nil, err
	}
	ex, err := expect(&ci, "ContentInfo.content", ber.ClassContextSpecific, 0, true, "[0]")
	if err != nil {
		return nil, err
	}
	if err := end(&ci, "ContentInfo"); err != nil {
		return nil, err
	}
	exr, err := children(ex, "ContentInfo.content")
	if err != nil {
		return nil, err
	}
	ed, err := expect(&exr, "EnvelopedData", ber.ClassUniversal, ber.TagSequence, true, "SEQUENCE")
	if err != nil {
		return nil, err
	}
	if err := end(&exr, "ContentInfo.content"); err != nil {
		return nil, err
	}
	edr, err := children(ed, "EnvelopedData")
	if err != nil {
		return nil, err
	}
	if err := expectVersion(&edr, "EnvelopedData.version"); err != nil {
		return nil, err
	}
	ris, err := next(&edr, "EnvelopedData.recipientInfos")
	if err != nil {
		return nil, err
	}
	if ris.Is(ber.ClassContextSpecific, 0, true) {
		return nil, unsupported(ris, "EnvelopedData.originatorInfo", "originatorInfo is not supported")
	}
	if !ris.Is(ber.ClassUniversal, ber.TagSet, true) {
		return nil, unexpected(ris, "EnvelopedData.recipientInfos", "SET")
	}
	env := new(envelope)
	if err := parseRecipientInfos(ris, env); err != nil {
		return nil, err
	}
	eci, err := expect(&edr, "EncryptedContentInfo", ber.ClassUniversal, ber.TagSequence, true, "SEQUENCE")
	if err != nil {
		return nil, err
	}
	if !edr.Empty() {
		e, err := next(&edr, "EnvelopedData")
		if err != nil {
			return nil, err
		}
		if e.Class == ber.ClassContextSpecific && e.Tag == 1 {
			return nil, unsupported(e, "EnvelopedData.unprotectedAttrs", "unprotectedAttrs are not supported")
		}
		return nil, format(e.Offset, "EnvelopedData", "unexpected element after EncryptedContentInfo")
	}
	if err := parseEncryptedContentInfo(eci, env); err != nil {
		return nil, err
	}
	return env, nil
}

func parseRecipientInfos(set ber.Element, env *envelope) error {
	r, err := children(set, "RecipientInfos")
	if err != nil {
		return err
	}
	if r.Empty() {
		return format(set.Offset, "RecipientInfos", "no recipient")
	}
	ri, err := next(&r, "RecipientInfo")
	if err != nil {
		return err
	}
	if !r.Empty() {
		count := 1
		for !r.Empty() {
			if _, err := next(&r, "RecipientInfo"); err != nil {
				return err
			}
			count++
		}
		return unsupported(set, "RecipientInfos", strconv.Itoa(count)+" recipients: exactly one is accepted")
	}
	if !ri.Is(ber.ClassUniversal, ber.TagSequence, true) {
		kind := "unknown"
		if ri.Class == ber.ClassContextSpecific && ri.Tag >= 1 && ri.Tag <= 4 {
			kind = [...]string{"", "KeyAgreeRecipientInfo", "KEKRecipientInfo", "PasswordRecipientInfo", "OtherRecipientInfo"}[ri.Tag]
		}
		return unsupported(ri, "RecipientInfo", kind+" recipient: only KeyTransRecipientInfo is supported")
	}
	kr, err := children(ri, "KeyTransRecipientInfo")
	if err != nil {
		return err
	}
	v, err := expect(&kr, "KeyTransRecipientInfo.version", ber.ClassUniversal, ber.TagInteger, false, "INTEGER")
	if err != nil {
		return err
	}
	if !bytes.Equal(v.Contents, []byte{2}) {
		if bytes.Equal(v.Contents, []byte{0}) {
			return unsupported(v, "KeyTransRecipientInfo.version",
				"version 0 (issuerAndSerialNumber) is not supported: KMS uses version 2 with a subjectKeyIdentifier")
		}
		return unsupported(v, "KeyTransRecipientInfo.version", "version "+intString(v.Contents)+", want 2")
	}
	rid, err := expect(&kr, "KeyTransRecipientInfo.rid", ber.ClassContextSpecific, 0, false, "[0] subjectKeyIdentifier")
	if err != nil {
		return err
	}
	if len(rid.Contents) == 0 {
		return format(rid.Offset, "KeyTransRecipientInfo.rid", "empty subjectKeyIdentifier")
	}
	env.ski = rid.Contents
	alg, err := expect(&kr, "keyEncryptionAlgorithm", ber.ClassUniversal, ber.TagSequence, true, "SEQUENCE")
	if err != nil {
		return err
	}
	if err := parseOAEP(alg); err != nil {
		return err
	}
	ek, err := expect(&kr, "encryptedKey", ber.ClassUniversal, ber.TagOctetString, false, "OCTET STRING")
	if err != nil {
		return err
	}
	env.encryptedKey = ek.Contents
	return end(&kr, "KeyTransRecipientInfo")
}

// parseOAEP accepts rsaesOaep with SHA-256, MGF1-SHA-256 and an empty label.
func parseOAEP(alg ber.Element) error {
	const field = "keyEncryptionAlgorithm"
	ar, err := children(alg, field)
	if err != nil {
		return err
	}
	if err := expectOID(&ar, field, oidRSAESOAEP); err != nil {
		return err
	}
	if ar.Empty() {
		return unsupported(alg, field, "RSAES-OAEP parameters absent (SHA-1 defaults): only SHA-256 is supported")
	}
	params, err := expect(&ar, field+".parameters", ber.ClassUniversal, ber.TagSequence, true, "SEQUENCE")
	if err != nil {
		return err
	}
	if err := end(&ar, field); err != nil {
		return err
	}
	pr, err := children(params, field+".parameters")
	if err != nil {
		return err
	}
	// hashAlgorithm [0]: required here (the default is SHA-1).
	h, ok, err := expectOptional(&pr, 0)
	if err != nil {
		return err
	}
	if !ok {
		return unsupported(params, "RSAES-OAEP hashAlgorithm", "absent (SHA-1 default): only SHA-256 is supported")
	}
	if err := explicitHash(h, "RSAES-OAEP hashAlgorithm"); err != nil {
		return err
	}
	// maskGenAlgorithm [1]: required here (the default is MGF1-SHA-1).
	m, ok, err := expectOptional(&pr, 1)
	if err != nil {
		return err
	}
	if !ok {
		return unsupported(params, "RSAES-OAEP maskGenAlgorithm", "absent (MGF1-SHA-1 default): only MGF1-SHA-256 is supported")
	}
	mr, err := children(m, "RSAES-OAEP maskGenAlgorithm")
	if err != nil {
		return err
	}
	mid, err := expect(&mr, "RSAES-OAEP maskGenAlgorithm", ber.ClassUniversal, ber.TagSequence, true, "SEQUENCE")
	if err != nil {
		return err
	}
	if err := end(&mr, "RSAES-OAEP maskGenAlgorithm"); err != nil {
		return err
	}
	mgr, err := children(mid, "RSAES-OAEP maskGenAlgorithm")
	if err != nil {
		return err
	}
	if err := expectOID(&mgr, "RSAES-OAEP maskGenAlgorithm", oidMGF1); err != nil {
		return err
	}
	mh, err := expect(&mgr, "MGF1 hash", ber.ClassUniversal, ber.TagSequence, true, "SEQUENCE")
	if err != nil {
		return err
	}
	if err := hashAlg(mh, "MGF1 hash"); err != nil {
		return err
	}
	if err := end(&mgr, "RSAES-OAEP maskGenAlgorithm"); err != nil {
		return err
	}
	// pSourceAlgorithm [2]: absent, or pSpecified with an empty label.
	p, ok, err := expectOptional(&pr, 2)
	if err != nil {
		return err
	}
	if ok {
		if err := emptyLabel(p); err != nil {
			return err
		}
	}
	return end(&pr, field+".parameters")
}

// explicitHash reads an [n] EXPLICIT holding a SHA-256 AlgorithmIdentifier.
func explicitHash(e ber.Element, field string) error {
	r, err := children(e, field)
	if err != nil {
		return err
	}
	id, err := expect(&r, field, ber.ClassUniversal, ber.TagSequence, true, "SEQUENCE")
	if err != nil {
		return err
	}
	if err := hashAlg(id, field); err != nil {
		return err
	}
	return end(&r, field)
}

// hashAlg accepts the AlgorithmIdentifier of SHA-256, parameters absent or NULL.
func hashAlg(id ber.Element, field string) error {
	r, err := children(id, field)
	if err != nil {
		return err
	}
	if err := expectOID(&r, field, oidSHA256); err != nil {
		return err
	}
	if !r.Empty() {
		p, err := next(&r, field)
		if err != nil {
			return err
		}
		if !p.Is(ber.ClassUniversal, ber.TagNull, false) || len(p.Contents) != 0 {
			return unsupported(p, field, "SHA-256 parameters must be absent or NULL")
		}
	}
	return end(&r, field)
}

func emptyLabel(e ber.Element) error {
	const field = "RSAES-OAEP pSourceAlgorithm"
	r, err := children(e, field)
	if err != nil {
		return err
	}
	id, err := expect(&r, field, ber.ClassUniversal, ber.TagSequence, true, "SEQUENCE")
	if err != nil {
		return err
	}
	if err := end(&r, field); err != nil {
		return err
	}
	ir, err := children(id, field)
	if err != nil {
		return err
	}
	if err := expectOID(&ir, field, oidPSpecified); err != nil {
		return err
	}
	l, err := expect(&ir, field, ber.ClassUniversal, ber.TagOctetString, false, "OCTET STRING")
	if err != nil {
		return err
	}
	if len(l.Contents) != 0 {
		return unsupported(l, field, "non-empty OAEP label")
	}
	return end(&ir, field)
}

func parseEncryptedContentInfo(eci ber.Element, env *envelope) error {
	r, err := children(eci, "EncryptedContentInfo")
	if err != nil {
		return err
	}
	if err := expectOID(&r, "EncryptedContentInfo.contentType", oidData); err != nil {
		return err
	}
	alg, err := expect(&r, "contentEncryptionAlgorithm", ber.ClassUniversal, ber.TagSequence, true, "SEQUENCE")
	if err != nil {
		return err
	}
	ar, err := children(alg, "contentEncryptionAlgorithm")
	if err != nil {
		return err
	}
	if err := expectOID(&ar, "contentEncryptionAlgorithm", oidAES256CBC); err != nil {
		return err
	}
	iv, err := expect(&ar, "contentEncryptionAlgorithm IV", ber.ClassUniversal, ber.TagOctetString, false, "OCTET STRING")
	if err != nil {
		return err
	}
	if len(iv.Contents) != ivSize {
		return format(iv.Offset, "contentEncryptionAlgorithm IV", strconv.Itoa(len(iv.Contents))+" bytes, want 16")
	}
	env.iv = iv.Contents
	if err := end(&ar, "contentEncryptionAlgorithm"); err != nil {
		return err
	}
	if r.Empty() {
		return unsupported(eci, "encryptedContent", "absent (detached content is not supported)")
	}
	c, err := next(&r, "encryptedContent")
	if err != nil {
		return err
	}
	if c.Class != ber.ClassContextSpecific || c.Tag != 0 {
		return unexpected(c, "encryptedContent", "[0]")
	}
	if err := end(&r, "EncryptedContentInfo"); err != nil {
		return err
	}
	n := 0
	if err := c.Segments(func(seg []byte) { n += len(seg) }); err != nil {
		return berError(err, "encryptedContent")
	}
	if n == 0 || n%blockSize != 0 {
		return format(c.Offset, "encryptedContent", strconv.Itoa(n)+" bytes, not a positive multiple of 16")
	}
	env.content, env.contentLen = c, n
	return nil
}

// Reading helpers: each turns a problem into a *FormatError naming field.

func next(r *ber.Reader, field string) (ber.Element, error) {
	if r.Empty() {
		return ber.Element{}, format(r.Offset(), field, "missing")
	}
	e, err := r.Next()
	if err != nil {
		return ber.Element{}, berError(err, field)
	}
	return e, nil
}

func expect(r *ber.Reader, field string, class ber.Class, tag uint32, constructed bool, want string) (ber.Element, error) {
	e, err := next(r, field)
	if err != nil {
		return e, err
	}
	if !e.Is(class, tag, constructed) {
		return e, unexpected(e, field, want)
	}
	return e, nil
}

// expectOptional returns the next element if it is a constructed [tag], nil
// if the reader is empty or holds something else next.
func expectOptional(r *ber.Reader, tag uint32) (ber.Element, bool, error) {
	if r.Empty() {
		return ber.Element{}, false, nil
	}
	save := *r
	e, err := r.Next()
	if err != nil {
		return e, false, berError(err, "RSAES-OAEP parameters")
	}
	if e.Class == ber.ClassContextSpecific && e.Tag == tag {
		if !e.Constructed {
			return e, false, unexpected(e, "RSAES-OAEP parameters", "constructed ["+strconv.Itoa(int(tag))+"]")
		}
		return e, true, nil
	}
	*r = save
	return ber.Element{}, false, nil
}

func expectOID(r *ber.Reader, field string, want []byte) error {
	e, err := expect(r, field, ber.ClassUniversal, ber.TagOID, false, "OBJECT IDENTIFIER")
	if err != nil {
		return err
	}
	if !bytes.Equal(e.Contents, want) {
		return unsupported(e, field, "OID "+oidString(e.Contents)+", want "+oidString(want))
	}
	return nil
}

func expectVersion(r *ber.Reader, field string) error {
	v, err := expect(r, field, ber.ClassUniversal, ber.TagInteger, false, "INTEGER")
	if err != nil {
		return err
	}
	if !bytes.Equal(v.Contents, []byte{2}) {
		return unsupported(v, field, "version "+intString(v.Contents)+", want 2")
	}
	return nil
}

func children(e ber.Element, field string) (ber.Reader, error) {
	r, err := e.Children()
	if err != nil {
		return r, berError(err, field)
	}
	return r, nil
}

func end(r *ber.Reader, field string) error {
	if !r.Empty() {
		return format(r.Offset(), field, "unexpected extra element")
	}
	return nil
}

func format(off int, field, reason string) error {
	return &FormatError{Offset: off, Field: field, Reason: reason}
}

func unsupported(e ber.Element, field, reason string) error {
	return &FormatError{Offset: e.Offset, Field: field, Reason: reason, Unsupported: true}
}

func unexpected(e ber.Element, field, want string) error {
	return &FormatError{Offset: e.Offset, Field: field, Reason: "found " + describe(e) + ", want " + want}
}

func berError(err error, field string) error {
	var be *ber.Error
	if !errors.As(err, &be) {
		return &FormatError{Offset: -1, Field: field, Reason: err.Error()}
	}
	return &FormatError{
		Offset:    be.Offset,
		Field:     field,
		Reason:    strings.TrimPrefix(be.Reason, "ber: "),
		Truncated: errors.Is(err, ber.ErrTruncated),
	}
}

// describe names an element's tag for error messages.
func describe(e ber.Element) string {
	form := "primitive "
	if e.Constructed {
		form = "constructed "
	}
	switch e.Class {
	case ber.ClassUniversal:
		switch e.Tag {
		case ber.TagInteger:
			return form + "INTEGER"
		case ber.TagOctetString:
			return form + "OCTET STRING"
		case ber.TagNull:
			return form + "NULL"
		case ber.TagOID:
			return form + "OBJECT IDENTIFIER"
		case ber.TagSequence:
			return form + "SEQUENCE"
		case ber.TagSet:
			return form + "SET"
		}
		return form + "universal " + strconv.Itoa(int(e.Tag))
	case ber.ClassContextSpecific:
		return form + "[" + strconv.Itoa(int(e.Tag)) + "]"
	case ber.ClassApplication:
		return form + "[APPLICATION " + strconv.Itoa(int(e.Tag)) + "]"
	}
	return form + "[PRIVATE " + strconv.Itoa(int(e.Tag)) + "]"
}

// oidString renders OID contents in dotted form, or hex if malformed.
func oidString(b []byte) string {
	if len(b) == 0 || len(b) > 64 || b[len(b)-1]&0x80 != 0 {
		return "0x" + hexString(b)
	}
	var sb strings.Builder
	var v uint64
	first := true
	for _, c := range b {
		if v > 1<<56 {
			return "0x" + hexString(b)
		}
		v = v<<7 | uint64(c&0x7f)
		if c&0x80 != 0 {
			continue
		}
		if first {
			x := min(v/40, 2)
			sb.WriteString(strconv.FormatUint(x, 10) + "." + strconv.FormatUint(v-40*x, 10))
			first = false
		} else {
			sb.WriteString("." + strconv.FormatUint(v, 10))
		}
		v = 0
	}
	return sb.String()
}

// intString renders a small INTEGER's contents, or hex.
func intString(b []byte) string {
	if len(b) == 1 && b[0] < 0x80 {
		return strconv.Itoa(int(b[0]))
	}
	return "0x" + hexString(b)
}

// hexString renders at most the first 32 bytes of b in hex, followed by
// "..." if b is longer: b may be the sender's, up to an envelope's size.
func hexString(b []byte) string {
	const shown = 32
	if len(b) > shown {
		return hex.EncodeToString(b[:shown]) + "..."
	}
	return hex.EncodeToString(b)
}
