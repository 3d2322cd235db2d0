// SPDX-License-Identifier: Apache-2.0

package kmsserver

// KMS keys of the asymmetric, HMAC and ML-KEM specs (package keyspec does
// the cryptography): creating their material, loading them for an
// operation, their condition keys and metadata, and Encrypt and Decrypt
// with RSA keys.

import (
	"slices"
	"strings"

	"github.com/enclavekit/enclavekit/host/kmsserver/keymaterial"
	"github.com/enclavekit/enclavekit/host/kmsserver/keyspec"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

// KMS's exception names for signature and MAC verification failures.
const (
	CodeKMSInvalidSignature = "KMSInvalidSignatureException"
	CodeKMSInvalidMac       = "KMSInvalidMacException"
)

// specErr turns an error of package keyspec into the KMS exception it maps
// to; other errors pass unchanged (an internal error).
func specErr(err error) error {
	if code := keyspec.Exception(err); code != "" {
		return apiErr(code, "%s", err.Error())
	}
	return err
}

// checkNewKeySpec validates CreateKey's KeySpec and KeyUsage for the specs
// package keyspec handles, as AWS does, and returns the usage to store
// (ENCRYPT_DECRYPT when none was given).
func checkNewKeySpec(spec, usage string) (string, error) {
	if err := keyspec.CheckKeyUsage(keyspec.Spec(spec), keyspec.Usage(usage)); err != nil {
		return "", specErr(err)
	}
	if usage == "" {
		usage = usageEncrypt
	}
	return usage, nil
}

// generateMaterial returns fresh material for a new key of spec: an AES or
// HMAC key from package keymaterial (s.rand), PKCS #8 from package keyspec
// for the asymmetric and ML-KEM specs (crypto/rand).
func (s *Server) generateMaterial(spec string) ([]byte, error) {
	if _, ok := keymaterial.KeySize(spec); ok {
		return keymaterial.Generate(spec, s.rand)
	}
	release, err := s.startKeyGen(spec)
	if err != nil {
		return nil, err
	}
	k, err := keyspec.Generate(keyspec.Spec(spec))
	release()
	if err != nil {
		return nil, specErr(err)
	}
	return k.Marshal(), nil
}

// parseMaterial prepares the unwrapped material of a key record: keymaterial
// for SYMMETRIC_DEFAULT keys, keyspec for every other spec. Material a spec cannot parse is an integrity failure of
// the record.
func parseMaterial(spec string, raw []byte) (*keymaterial.Material, *keyspec.Key, error) {
	if spec == specSymmetric {
		km, err := keymaterial.NewMaterial(spec, raw)
		return km, nil, err
	}
	// No AEAD: blob operations refuse it. HMAC material is checked by
	// keyspec, which takes the longer keys ImportKeyMaterial accepts.
	km := &keymaterial.Material{Raw: raw}
	k, err := keyspec.ParsePrivateKey(keyspec.Spec(spec), raw)
	if err != nil {
		return nil, nil, keymaterial.ErrIntegrity
	}
	return km, k, nil
}

// useSpecKey loads a key for an operation of package keyspec: resolve,
// authorize action (with the extra condition keys cond and, for Recipient
// requests, the attestation document), check the state and that the key's
// usage allows op (InvalidKeyUsageException), and return its material.
func (s *Server) useSpecKey(c *call, ref string, op keyspec.Operation, action string, cond map[string][]string, doc *attestedRecipient) (*keystore.Key, *keyspec.Key, error) {
	k, err := s.loadKey(c, ref)
	if err != nil {
		return nil, nil, err
	}
	c.cond = cond
	err = s.authorize(c, k, action, nil, doc)
	c.cond = nil // for this key only: ReEncrypt authorizes a second key
	if err != nil {
		return nil, nil, err
	}
	if err := s.enabledFor(c, k); err != nil {
		return nil, nil, err
	}
	if err := keyspec.CheckOperation(keyspec.Spec(k.KeySpec), keyspec.Usage(k.KeyUsage), op); err != nil {
		if ue, ok := err.(*keyspec.KeyUsageError); ok && ue.Algorithm == "" {
			return nil, nil, apiErr(CodeInvalidKeyUsage, "%s key usage is %s which is not valid for %s.", s.keyARN(k.ID), k.KeyUsage, op)
		}
		return nil, nil, specErr(err)
	}
	m, err := s.material(k)
	if err != nil {
		return nil, nil, err
	}
	if m.spec == nil { // SYMMETRIC_DEFAULT: Encrypt or Decrypt with an RSA algorithm
		return nil, nil, apiErr(CodeInvalidKeyUsage, "%s is a symmetric key: the only EncryptionAlgorithm valid for it is SYMMETRIC_DEFAULT.", s.keyARN(k.ID))
	}
	return k, m.spec, nil
}

// encryptionActions are the actions whose requests carry
// kms:EncryptionAlgorithm; for symmetric keys it is always SYMMETRIC_DEFAULT.
var encryptionActions = []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
	"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
	"kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext"}

// addKeyConditions adds the condition keys of the key and the request to a
// policy context: kms:KeySpec and kms:KeyUsage for every operation on a key,
// kms:EncryptionAlgorithm SYMMETRIC_DEFAULT for the symmetric encryption
// family, and the operation's own keys (c.cond: kms:SigningAlgorithm,
// kms:MessageType, kms:MacAlgorithm, kms:KeyAgreementAlgorithm,
// kms:EncryptionAlgorithm, kms:EncapsulationAlgorithm).
func addKeyConditions(c *call, k *keystore.Key, action string, ctx map[string][]string) {
	ctx[policy.KeyKeySpec] = []string{k.KeySpec}
	ctx[policy.KeyKeyUsage] = []string{k.KeyUsage}
	if k.KeySpec == specSymmetric && slices.Contains(encryptionActions, action) {
		ctx[policy.KeyEncryptionAlgorithm] = []string{specSymmetric}
	}
	for name, v := range c.cond {
		ctx[name] = v
	}
}

// createKeyConditions are the condition keys of a CreateKey request for the
// identity policy: kms:KeySpec and kms:KeyUsage as requested, with CreateKey's
// defaults (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) when left out.
func createKeyConditions(spec, cmkSpec, usage string) map[string][]string {
	if spec == "" {
		spec = cmkSpec
	}
	if spec == "" {
		spec = specSymmetric
	}
	if usage == "" {
		usage = usageEncrypt
	}
	return map[string][]string{policy.KeyKeySpec: {spec}, policy.KeyKeyUsage: {usage}}
}

// addAlgorithms fills the algorithm lists of DescribeKey's and
// GetPublicKey's metadata for k, as AWS does: per usage.
func addAlgorithms(m *keyMetadata, spec, usage string) {
	ks := keyspec.Spec(spec)
	switch usage {
	case string(keyspec.SignVerify):
		m.SigningAlgorithms = strs(ks.SigningAlgorithms())
	case string(keyspec.EncryptDecrypt):
		if spec != specSymmetric {
			m.EncryptionAlgorithms = strs(ks.EncryptionAlgorithms())
		}
	case string(keyspec.KeyAgreement):
		m.KeyAgreementAlgorithms = strs(ks.KeyAgreementAlgorithms())
	case string(keyspec.EncapsulateDecapsulate):
		m.EncapsulationAlgorithms = strs(ks.EncapsulationAlgorithms())
	}
}

func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// isRSAEncryption reports whether alg names RSA encryption, which Encrypt
// and Decrypt hand to encryptRSA and decryptRSA.
func isRSAEncryption(alg string) bool {
	return alg == string(keyspec.RSAES_OAEP_SHA_1) || alg == string(keyspec.RSAES_OAEP_SHA_256)
}

// encryptRSA is Encrypt with an RSA algorithm: RSAES-OAEP under the public
// key of an RSA ENCRYPT_DECRYPT key. There is no encryption context with
// asymmetric keys (ValidationException), and the ciphertext is the bare
// OAEP output, as in AWS.
func (s *Server) encryptRSA(c *call, in *encryptInput) (any, error) {
	if len(in.EncryptionContext) > 0 {
		return nil, validation("EncryptionContext is not supported with asymmetric KMS keys (EncryptionAlgorithm %s)", in.EncryptionAlgorithm)
	}
	cond := map[string][]string{policy.KeyEncryptionAlgorithm: {in.EncryptionAlgorithm}}
	k, key, err := s.useSpecKey(c, in.KeyID, keyspec.OpEncrypt, "kms:Encrypt", cond, nil)
	if err != nil {
		return nil, err
	}
	ct, err := key.Encrypt(keyspec.EncryptionAlgorithm(in.EncryptionAlgorithm), in.Plaintext)
	if err != nil {
		return nil, specErr(err)
	}
	if in.DryRun {
		return nil, dryRun("kms:Encrypt")
	}
	return encryptOutput{CiphertextBlob: ct, KeyID: s.keyARN(k.ID), EncryptionAlgorithm: in.EncryptionAlgorithm}, nil
}

// decryptRSA is Decrypt with an RSA algorithm: KeyId is required (the
// ciphertext names no key), and with Recipient the plaintext comes back
// only as CiphertextForRecipient.
func (s *Server) decryptRSA(c *call, in *decryptInput) (any, error) {
	if in.KeyID == "" {
		return nil, validation("KeyId is required to decrypt with an asymmetric KMS key (EncryptionAlgorithm %s)", in.EncryptionAlgorithm)
	}
	if len(in.EncryptionContext) > 0 {
		return nil, validation("EncryptionContext is not supported with asymmetric KMS keys (EncryptionAlgorithm %s)", in.EncryptionAlgorithm)
	}
	if len(in.CiphertextBlob) == 0 || len(in.CiphertextBlob) > 6144 {
		return nil, validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	doc, err := s.checkRecipient(c, in.Recipient)
	if err != nil {
		return nil, err
	}
	cond := map[string][]string{policy.KeyEncryptionAlgorithm: {in.EncryptionAlgorithm}}
	k, key, err := s.useSpecKey(c, in.KeyID, keyspec.OpDecrypt, "kms:Decrypt", cond, doc)
	if err != nil {
		return nil, err
	}
	pt, err := key.Decrypt(keyspec.EncryptionAlgorithm(in.EncryptionAlgorithm), in.CiphertextBlob)
	if err != nil {
		return nil, specErr(err)
	}
	if in.DryRun {
		return nil, dryRun("kms:Decrypt")
	}
	out := decryptOutput{KeyID: s.keyARN(k.ID), EncryptionAlgorithm: in.EncryptionAlgorithm}
	if doc != nil {
		if out.CiphertextForRecipient, err = s.forRecipient(doc, pt); err != nil {
			return nil, err
		}
		return out, nil
	}
	out.Plaintext = pt
	return out, nil
}

// reEncryptRSA is ReEncrypt with an RSA algorithm on either side: the
// source decrypted with an RSA key (SourceKeyId required) or opened as a
// symmetric blob, the plaintext encrypted to an RSA key or sealed as a
// symmetric blob. Encryption contexts apply to the symmetric sides only.
func (s *Server) reEncryptRSA(c *call, in *reEncryptInput) (any, error) {
	srcRSA, dstRSA := isRSAEncryption(in.SourceEncryptionAlgorithm), isRSAEncryption(in.DestinationEncryptionAlgorithm)
	if srcRSA && len(in.SourceEncryptionContext) > 0 || dstRSA && len(in.DestinationEncryptionContext) > 0 {
		return nil, validation("EncryptionContext is not supported with asymmetric KMS keys")
	}
	if len(in.CiphertextBlob) == 0 || len(in.CiphertextBlob) > 6144 {
		return nil, validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	var src *keystore.Key
	var pt []byte
	if srcRSA {
		if in.SourceKeyID == "" {
			return nil, validation("SourceKeyId is required to re-encrypt from an asymmetric KMS key (SourceEncryptionAlgorithm %s)", in.SourceEncryptionAlgorithm)
		}
		cond := map[string][]string{policy.KeyEncryptionAlgorithm: {in.SourceEncryptionAlgorithm}}
		k, key, err := s.useSpecKey(c, in.SourceKeyID, keyspec.OpDecrypt, "kms:ReEncryptFrom", cond, nil)
		if err != nil {
			return nil, err
		}
		if pt, err = key.Decrypt(keyspec.EncryptionAlgorithm(in.SourceEncryptionAlgorithm), in.CiphertextBlob); err != nil {
			return nil, specErr(err)
		}
		src = k
	} else {
		if err := checkAlgorithm(in.SourceEncryptionAlgorithm); err != nil {
			return nil, err
		}
		var err error
		if src, pt, err = s.openAny(c, in.CiphertextBlob, in.SourceKeyID, in.SourceEncryptionContext, "kms:ReEncryptFrom", nil); err != nil {
			return nil, err
		}
	}
	out := reEncryptOutput{SourceKeyID: s.keyARN(src.ID), SourceEncryptionAlgorithm: specSymmetric, DestinationEncryptionAlgorithm: specSymmetric}
	if srcRSA {
		out.SourceEncryptionAlgorithm = in.SourceEncryptionAlgorithm
	}
	if dstRSA {
		cond := map[string][]string{policy.KeyEncryptionAlgorithm: {in.DestinationEncryptionAlgorithm}}
		k, key, err := s.useSpecKey(c, in.DestinationKeyID, keyspec.OpEncrypt, "kms:ReEncryptTo", cond, nil)
		if err != nil {
			return nil, err
		}
		if out.CiphertextBlob, err = key.Encrypt(keyspec.EncryptionAlgorithm(in.DestinationEncryptionAlgorithm), pt); err != nil {
			return nil, specErr(err)
		}
		out.KeyID, out.DestinationEncryptionAlgorithm = s.keyARN(k.ID), in.DestinationEncryptionAlgorithm
	} else {
		if err := checkAlgorithm(in.DestinationEncryptionAlgorithm); err != nil {
			return nil, err
		}
		dst, m, err := s.useKey(c, in.DestinationKeyID, "kms:ReEncryptTo", in.DestinationEncryptionContext, nil)
		if err != nil {
			return nil, err
		}
		if out.CiphertextBlob, err = s.sealBlob(dst, m, pt, in.DestinationEncryptionContext); err != nil {
			return nil, err
		}
		out.KeyID = s.keyARN(dst.ID)
	}
	if in.DryRun {
		return nil, dryRun("kms:ReEncrypt")
	}
	return out, nil
}

// dataKeyPairSpecs are AWS's GenerateDataKeyPair specs, in AWS's order;
// keymaterial makes the RSA and NIST ones, keyspec ECC_SECG_P256K1 and
// ECC_NIST_EDWARDS25519.
var dataKeyPairSpecs = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
	"ECC_SECG_P256K1", "SM2", "ECC_NIST_EDWARDS25519", "ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"}

// unsupportedDataKeyPairs are the GenerateDataKeyPair specs this server
// refuses, and why.
var unsupportedDataKeyPairs = map[string]string{
	"SM2":         "SM2 key pairs exist only in AWS's China Regions",
	"ML_KEM_512":  "Go's crypto/mlkem has no ML-KEM-512",
	"ML_KEM_768":  "the private key format AWS returns for ML-KEM data key pairs is not reproduced",
	"ML_KEM_1024": "the private key format AWS returns for ML-KEM data key pairs is not reproduced",
}

// checkDataKeyPairSpec validates GenerateDataKeyPair's KeyPairSpec: outside
// AWS's set a ValidationException, a spec this server refuses an
// UnsupportedOperationException with the reason.
func checkDataKeyPairSpec(spec string) error {
	if !slices.Contains(dataKeyPairSpecs, spec) {
		return validation("1 validation error detected: Value '%s' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
			spec, strings.Join(dataKeyPairSpecs, ", "))
	}
	if reason, ok := unsupportedDataKeyPairs[spec]; ok {
		return apiErr(CodeUnsupportedOperation, "KeyPairSpec %s is not supported: %s", spec, reason)
	}
	return nil
}

// newDataKeyPair returns a fresh key pair of spec as PKCS #8 and
// SubjectPublicKeyInfo DER.
func (s *Server) newDataKeyPair(spec string) (priv, pub []byte, err error) {
	release, err := s.startKeyGen(spec)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	if keymaterial.IsKeyPairSpec(spec) {
		return keymaterial.GenerateKeyPair(spec, s.rand)
	}
	k, err := keyspec.Generate(keyspec.Spec(spec))
	if err != nil {
		return nil, nil, specErr(err)
	}
	pub, err = k.PublicKey()
	if err != nil {
		return nil, nil, err
	}
	return k.Marshal(), pub, nil
}
