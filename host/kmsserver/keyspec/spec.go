// SPDX-License-Identifier: Apache-2.0

package keyspec

import (
	"crypto"
	"slices"
	"strings"
)

// Spec is an AWS KMS key spec (the KeySpec member of CreateKey and
// DescribeKey), spelled as AWS spells it.
type Spec string

// The key specs of AWS KMS. [SymmetricDefault] keys are AES-256-GCM keys that
// this package does not handle (the server's blob format does); it is listed
// so that [CheckKeyUsage] covers every spec.
const (
	SymmetricDefault Spec = "SYMMETRIC_DEFAULT"
	RSA2048          Spec = "RSA_2048"
	RSA3072          Spec = "RSA_3072"
	RSA4096          Spec = "RSA_4096"
	ECCNISTP256      Spec = "ECC_NIST_P256"
	ECCNISTP384      Spec = "ECC_NIST_P384"
	ECCNISTP521      Spec = "ECC_NIST_P521"
	ECCSECGP256K1    Spec = "ECC_SECG_P256K1"
	HMAC224          Spec = "HMAC_224"
	HMAC256          Spec = "HMAC_256"
	HMAC384          Spec = "HMAC_384"
	HMAC512          Spec = "HMAC_512"
	MLKEM512         Spec = "ML_KEM_512"
	MLKEM768         Spec = "ML_KEM_768"
	MLKEM1024        Spec = "ML_KEM_1024"

	MLDSA44 Spec = "ML_DSA_44"
	MLDSA65 Spec = "ML_DSA_65"
	MLDSA87 Spec = "ML_DSA_87"

	// SM2 is a spec AWS has that this package refuses (see [Unsupported]).
	SM2 Spec = "SM2"
)

// ECCNISTEdwards25519 is the Ed25519 key spec (SIGN_VERIFY only).
const ECCNISTEdwards25519 Spec = "ECC_NIST_EDWARDS25519"

// Usage is an AWS KMS key usage (the KeyUsage member of CreateKey).
type Usage string

// The key usages of AWS KMS.
const (
	EncryptDecrypt         Usage = "ENCRYPT_DECRYPT"
	SignVerify             Usage = "SIGN_VERIFY"
	GenerateVerifyMac      Usage = "GENERATE_VERIFY_MAC"
	KeyAgreement           Usage = "KEY_AGREEMENT"
	EncapsulateDecapsulate Usage = "ENCAPSULATE_DECAPSULATE"
)

// SigningAlgorithm is an AWS KMS signing algorithm (Sign, Verify).
type SigningAlgorithm string

// The signing algorithms this package implements. RSASSA-PSS uses MGF1 with
// the same hash and a salt as long as the hash, as AWS documents.
const (
	RSASSA_PSS_SHA_256        SigningAlgorithm = "RSASSA_PSS_SHA_256"
	RSASSA_PSS_SHA_384        SigningAlgorithm = "RSASSA_PSS_SHA_384"
	RSASSA_PSS_SHA_512        SigningAlgorithm = "RSASSA_PSS_SHA_512"
	RSASSA_PKCS1_V1_5_SHA_256 SigningAlgorithm = "RSASSA_PKCS1_V1_5_SHA_256"
	RSASSA_PKCS1_V1_5_SHA_384 SigningAlgorithm = "RSASSA_PKCS1_V1_5_SHA_384"
	RSASSA_PKCS1_V1_5_SHA_512 SigningAlgorithm = "RSASSA_PKCS1_V1_5_SHA_512"
	ECDSA_SHA_256             SigningAlgorithm = "ECDSA_SHA_256"
	ECDSA_SHA_384             SigningAlgorithm = "ECDSA_SHA_384"
	ECDSA_SHA_512             SigningAlgorithm = "ECDSA_SHA_512"
	// ED25519_SHA_512 is pure Ed25519 (RFC 8032) over a RAW message.
	ED25519_SHA_512 SigningAlgorithm = "ED25519_SHA_512"
	// ED25519_PH_SHA_512 is Ed25519ph over a DIGEST message, which is
	// hashed again: the signature is Ed25519ph of M = the 64-byte message,
	// whose prehash is SHA-512(M) (FIPS 186-5 7.8.1 step 1), as AWS
	// documents.
	ED25519_PH_SHA_512 SigningAlgorithm = "ED25519_PH_SHA_512"
)

// EncryptionAlgorithm is an AWS KMS encryption algorithm (Encrypt, Decrypt).
type EncryptionAlgorithm string

// The RSA encryption algorithms: RSAES-OAEP with the named hash for both the
// label hash and MGF1, and an empty label.
const (
	RSAES_OAEP_SHA_1   EncryptionAlgorithm = "RSAES_OAEP_SHA_1"
	RSAES_OAEP_SHA_256 EncryptionAlgorithm = "RSAES_OAEP_SHA_256"
	// SYMMETRIC_DEFAULT is the algorithm of SymmetricDefault keys, named here
	// only for [Spec.EncryptionAlgorithms].
	SYMMETRIC_DEFAULT EncryptionAlgorithm = "SYMMETRIC_DEFAULT"
)

// MacAlgorithm is an AWS KMS MAC algorithm (GenerateMac, VerifyMac).
type MacAlgorithm string

// The HMAC algorithms; each HMAC key spec has exactly one.
const (
	HMAC_SHA_224 MacAlgorithm = "HMAC_SHA_224"
	HMAC_SHA_256 MacAlgorithm = "HMAC_SHA_256"
	HMAC_SHA_384 MacAlgorithm = "HMAC_SHA_384"
	HMAC_SHA_512 MacAlgorithm = "HMAC_SHA_512"
)

// KeyAgreementAlgorithm is an AWS KMS key agreement algorithm
// (DeriveSharedSecret).
type KeyAgreementAlgorithm string

// ECDH is the only key agreement algorithm: the cofactor Diffie-Hellman
// primitive of NIST SP 800-56A (the cofactor is 1 on the NIST curves), whose
// output is the x-coordinate of the shared point.
const ECDH KeyAgreementAlgorithm = "ECDH"

// EncapsulationAlgorithm is an AWS KMS key encapsulation algorithm
// (Encapsulate, Decapsulate).
type EncapsulationAlgorithm string

// ML_KEM is the only encapsulation algorithm (FIPS 203).
const ML_KEM EncapsulationAlgorithm = "ML_KEM"

// MessageType says whether Sign and Verify hash the message (RAW) or take it
// as the digest (DIGEST). The empty MessageType is RAW, as in AWS.
type MessageType string

// The message types. EXTERNAL_MU is for ML-DSA keys only (see [MuSize]).
const (
	RAW         MessageType = "RAW"
	DIGEST      MessageType = "DIGEST"
	EXTERNAL_MU MessageType = "EXTERNAL_MU"
)

// Limits from the AWS KMS API reference.
const (
	// MaxMessage bounds the Message of Sign, Verify, GenerateMac and
	// VerifyMac (1 to 4096 bytes).
	MaxMessage = 4096
	// MaxSignature bounds the Signature of Verify and the Mac of VerifyMac
	// (1 to 6144 bytes).
	MaxSignature = 6144
	// MaxPublicKey bounds the PublicKey of DeriveSharedSecret (1 to 8192 bytes).
	MaxPublicKey = 8192
	// MaxCiphertext bounds the ciphertext of Decrypt and Decapsulate (1 to
	// 6144 bytes).
	MaxCiphertext = 6144
)

// specInfo is everything the package knows about one spec.
type specInfo struct {
	usages   []Usage
	signing  []SigningAlgorithm
	enc      []EncryptionAlgorithm
	mac      []MacAlgorithm
	agree    []KeyAgreementAlgorithm
	kem      []EncapsulationAlgorithm
	rsaBits  int
	hmacSize int // generated HMAC key length in bytes
}

var rsaSigning = []SigningAlgorithm{
	RSASSA_PSS_SHA_256, RSASSA_PSS_SHA_384, RSASSA_PSS_SHA_512,
	RSASSA_PKCS1_V1_5_SHA_256, RSASSA_PKCS1_V1_5_SHA_384, RSASSA_PKCS1_V1_5_SHA_512,
}

var rsaEnc = []EncryptionAlgorithm{RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256}

// specs is the table of AWS's spec/usage/algorithm pairings (AWS KMS
// Developer Guide, "Key spec reference").
var specs = map[Spec]*specInfo{
	SymmetricDefault:    {usages: []Usage{EncryptDecrypt}, enc: []EncryptionAlgorithm{SYMMETRIC_DEFAULT}},
	RSA2048:             {usages: []Usage{EncryptDecrypt, SignVerify}, signing: rsaSigning, enc: rsaEnc, rsaBits: 2048},
	RSA3072:             {usages: []Usage{EncryptDecrypt, SignVerify}, signing: rsaSigning, enc: rsaEnc, rsaBits: 3072},
	RSA4096:             {usages: []Usage{EncryptDecrypt, SignVerify}, signing: rsaSigning, enc: rsaEnc, rsaBits: 4096},
	ECCNISTP256:         {usages: []Usage{SignVerify, KeyAgreement}, signing: []SigningAlgorithm{ECDSA_SHA_256}, agree: []KeyAgreementAlgorithm{ECDH}},
	ECCNISTP384:         {usages: []Usage{SignVerify, KeyAgreement}, signing: []SigningAlgorithm{ECDSA_SHA_384}, agree: []KeyAgreementAlgorithm{ECDH}},
	ECCNISTP521:         {usages: []Usage{SignVerify, KeyAgreement}, signing: []SigningAlgorithm{ECDSA_SHA_512}, agree: []KeyAgreementAlgorithm{ECDH}},
	ECCSECGP256K1:       {usages: []Usage{SignVerify}, signing: []SigningAlgorithm{ECDSA_SHA_256}},
	ECCNISTEdwards25519: {usages: []Usage{SignVerify}, signing: []SigningAlgorithm{ED25519_SHA_512, ED25519_PH_SHA_512}},
	HMAC224:             {usages: []Usage{GenerateVerifyMac}, mac: []MacAlgorithm{HMAC_SHA_224}, hmacSize: 28},
	HMAC256:             {usages: []Usage{GenerateVerifyMac}, mac: []MacAlgorithm{HMAC_SHA_256}, hmacSize: 32},
	HMAC384:             {usages: []Usage{GenerateVerifyMac}, mac: []MacAlgorithm{HMAC_SHA_384}, hmacSize: 48},
	HMAC512:             {usages: []Usage{GenerateVerifyMac}, mac: []MacAlgorithm{HMAC_SHA_512}, hmacSize: 64},
	MLKEM768:            {usages: []Usage{EncapsulateDecapsulate}, kem: []EncapsulationAlgorithm{ML_KEM}},
	MLKEM1024:           {usages: []Usage{EncapsulateDecapsulate}, kem: []EncapsulationAlgorithm{ML_KEM}},
	MLDSA44:             {usages: []Usage{SignVerify}, signing: []SigningAlgorithm{ML_DSA_SHAKE_256}},
	MLDSA65:             {usages: []Usage{SignVerify}, signing: []SigningAlgorithm{ML_DSA_SHAKE_256}},
	MLDSA87:             {usages: []Usage{SignVerify}, signing: []SigningAlgorithm{ML_DSA_SHAKE_256}},
}

// unsupported gives the reason for every AWS spec this package refuses.
var unsupported = map[Spec]string{
	MLKEM512: "Go's crypto/mlkem implements ML-KEM-768 and ML-KEM-1024 only",
	SM2:      "SM2 keys exist only in AWS's China Regions; Go has no SM2 implementation in the standard library or x/crypto",
}

// Specs returns the key specs this package implements, SymmetricDefault
// excluded, in AWS's documentation order.
func Specs() []Spec {
	return []Spec{RSA2048, RSA3072, RSA4096, ECCNISTP256, ECCNISTP384, ECCNISTP521,
		ECCSECGP256K1, ECCNISTEdwards25519, HMAC224, HMAC256, HMAC384, HMAC512, MLKEM768, MLKEM1024,
		MLDSA44, MLDSA65, MLDSA87}
}

// Unsupported reports whether AWS has spec but this package refuses it, and
// why.
func Unsupported(spec Spec) (reason string, ok bool) {
	reason, ok = unsupported[spec]
	return reason, ok
}

// allSpecNames is the enum set of the KeySpec member, for
// ValidationException messages.
const allSpecNames = "[RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87, ECC_NIST_EDWARDS25519, ML_KEM_512, ML_KEM_768, ML_KEM_1024]"

const allUsageNames = "[SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT, ENCAPSULATE_DECAPSULATE]"

// lookup returns the table entry of spec, or the error AWS gives for a spec
// it does not know (ValidationException) or this package does not implement
// (UnsupportedOperationException).
func lookup(spec Spec) (*specInfo, error) {
	if info, ok := specs[spec]; ok {
		return info, nil
	}
	if reason, ok := unsupported[spec]; ok {
		return nil, &UnsupportedError{Spec: spec, Reason: reason}
	}
	return nil, &ValidationError{Field: "keySpec", Value: string(spec), Reason: "Member must satisfy enum value set: " + allSpecNames}
}

// CheckKeyUsage validates a CreateKey KeySpec/KeyUsage pair as AWS does: an
// unknown spec or usage, or a usage the spec does not allow, is a
// [*ValidationError]; a spec AWS has but this package refuses is an
// [*UnsupportedError]. An empty usage means ENCRYPT_DECRYPT and an empty spec
// SYMMETRIC_DEFAULT, as in CreateKey.
func CheckKeyUsage(spec Spec, usage Usage) error {
	if spec == "" {
		spec = SymmetricDefault
	}
	if usage == "" {
		usage = EncryptDecrypt
	}
	switch usage {
	case EncryptDecrypt, SignVerify, GenerateVerifyMac, KeyAgreement, EncapsulateDecapsulate:
	default:
		return &ValidationError{Field: "keyUsage", Value: string(usage), Reason: "Member must satisfy enum value set: " + allUsageNames}
	}
	info, err := lookup(spec)
	if err != nil {
		return err
	}
	if !slices.Contains(info.usages, usage) {
		return &ValidationError{Field: "keyUsage", Value: string(usage),
			Reason: "KeyUsage " + string(usage) + " is not compatible with KeySpec " + string(spec) + "; valid: " + joinUsages(info.usages)}
	}
	return nil
}

func joinUsages(u []Usage) string {
	s := make([]string, len(u))
	for i, v := range u {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// Usages returns the key usages AWS allows for spec (nil for an unknown or
// unsupported spec).
func (s Spec) Usages() []Usage { return clone(specs[s], func(i *specInfo) []Usage { return i.usages }) }

// SigningAlgorithms returns the signing algorithms of spec, as GetPublicKey
// and DescribeKey list them for a SIGN_VERIFY key.
func (s Spec) SigningAlgorithms() []SigningAlgorithm {
	return clone(specs[s], func(i *specInfo) []SigningAlgorithm { return i.signing })
}

// EncryptionAlgorithms returns the encryption algorithms of spec, as
// GetPublicKey and DescribeKey list them for an ENCRYPT_DECRYPT key.
func (s Spec) EncryptionAlgorithms() []EncryptionAlgorithm {
	return clone(specs[s], func(i *specInfo) []EncryptionAlgorithm { return i.enc })
}

// MacAlgorithms returns the MAC algorithms of spec (one for an HMAC spec).
func (s Spec) MacAlgorithms() []MacAlgorithm {
	return clone(specs[s], func(i *specInfo) []MacAlgorithm { return i.mac })
}

// KeyAgreementAlgorithms returns the key agreement algorithms of spec, as
// GetPublicKey and DescribeKey list them for a KEY_AGREEMENT key.
func (s Spec) KeyAgreementAlgorithms() []KeyAgreementAlgorithm {
	return clone(specs[s], func(i *specInfo) []KeyAgreementAlgorithm { return i.agree })
}

// EncapsulationAlgorithms returns the encapsulation algorithms of spec.
func (s Spec) EncapsulationAlgorithms() []EncapsulationAlgorithm {
	return clone(specs[s], func(i *specInfo) []EncapsulationAlgorithm { return i.kem })
}

func clone[T any](info *specInfo, f func(*specInfo) []T) []T {
	if info == nil {
		return nil
	}
	return slices.Clone(f(info))
}

// Operation names an AWS KMS operation, for [CheckOperation] and the
// messages of [*KeyUsageError].
type Operation string

// The operations whose key usage [CheckOperation] checks.
const (
	OpSign               Operation = "Sign"
	OpVerify             Operation = "Verify"
	OpGetPublicKey       Operation = "GetPublicKey"
	OpEncrypt            Operation = "Encrypt"
	OpDecrypt            Operation = "Decrypt"
	OpGenerateMac        Operation = "GenerateMac"
	OpVerifyMac          Operation = "VerifyMac"
	OpDeriveSharedSecret Operation = "DeriveSharedSecret"
	OpEncapsulate        Operation = "Encapsulate"
	OpDecapsulate        Operation = "Decapsulate"
)

// operationUsage is the key usage each operation requires (GetPublicKey
// takes any asymmetric key).
var operationUsage = map[Operation]Usage{
	OpSign: SignVerify, OpVerify: SignVerify,
	OpEncrypt: EncryptDecrypt, OpDecrypt: EncryptDecrypt,
	OpGenerateMac: GenerateVerifyMac, OpVerifyMac: GenerateVerifyMac,
	OpDeriveSharedSecret: KeyAgreement,
	OpEncapsulate:        EncapsulateDecapsulate, OpDecapsulate: EncapsulateDecapsulate,
}

// CheckOperation reports whether a key of spec and usage may perform op, as
// AWS checks before any algorithm: a [*KeyUsageError]
// (InvalidKeyUsageException) when it may not. GetPublicKey is refused for
// symmetric and HMAC keys (UnsupportedOperationException in AWS, an
// [*UnsupportedError] here).
func CheckOperation(spec Spec, usage Usage, op Operation) error {
	if op == OpGetPublicKey {
		switch {
		case spec == SymmetricDefault || specs[spec] != nil && specs[spec].hmacSize > 0:
			return &UnsupportedError{Spec: spec, Operation: op, Reason: "GetPublicKey is not valid for " + string(spec) + " keys, which have no public key"}
		case specs[spec] == nil:
			_, err := lookup(spec)
			return err
		}
		return nil
	}
	want, ok := operationUsage[op]
	if !ok || usage != want {
		return &KeyUsageError{Spec: spec, Usage: usage, Operation: op}
	}
	if spec == SymmetricDefault && op != OpEncrypt && op != OpDecrypt {
		return &KeyUsageError{Spec: spec, Usage: usage, Operation: op}
	}
	return nil
}

// hashOf maps an algorithm name's hash suffix to the hash.
func hashOf(name string) crypto.Hash {
	switch {
	case strings.HasSuffix(name, "SHA_224"):
		return crypto.SHA224
	case strings.HasSuffix(name, "SHA_256"):
		return crypto.SHA256
	case strings.HasSuffix(name, "SHA_384"):
		return crypto.SHA384
	case strings.HasSuffix(name, "SHA_512"):
		return crypto.SHA512
	case strings.HasSuffix(name, "SHA_1"):
		return crypto.SHA1
	}
	return 0
}

// enum is the value set of one request member, for checkEnum.
type enum struct {
	names string // as AWS writes it in messages: "[A, B, C]"
	set   map[string]bool
}

func newEnum(names string) enum {
	e := enum{names: names, set: map[string]bool{}}
	for _, v := range strings.Split(strings.Trim(names, "[]"), ", ") {
		e.set[v] = true
	}
	return e
}

// checkEnum returns the ValidationException AWS gives for a missing member
// or a value outside the member's enum set.
func checkEnum(field, value string, e enum) error {
	if value == "" {
		return &ValidationError{Field: field, Reason: "Member must not be null"}
	}
	if !e.set[value] {
		return &ValidationError{Field: field, Value: value, Reason: "Member must satisfy enum value set: " + e.names}
	}
	return nil
}
