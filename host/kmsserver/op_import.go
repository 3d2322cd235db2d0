// SPDX-License-Identifier: Apache-2.0

package kmsserver

// GetParametersForImport, ImportKeyMaterial and DeleteImportedKeyMaterial,
// for keys created with Origin EXTERNAL (see importableSpec), with the
// wrapping algorithms RSAES_OAEP_SHA_1/256 and RSA_AES_KEY_WRAP_SHA_1/256
// (see unwrapKeyMaterial).
//
// The import token is self-contained: the wrapping private key (PKCS #8)
// sealed under the root key ([keymaterial.Root.Wrap]) with the key ID, the
// wrapping algorithm, the wrapping key spec and the expiry as additional
// data, so the server keeps no state between the two calls. The key ID of
// the ImportKeyMaterial request (not the token's) goes into the check:
// a token for key A does not open for key B, and an edited expiry does not
// open at all.

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keymaterial"
	"github.com/enclavekit/enclavekit/host/kmsserver/keyspec"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keywrap"
)

// Import error codes, as KMS names them.
const (
	CodeInvalidImportToken       = "InvalidImportTokenException"
	CodeExpiredImportToken       = "ExpiredImportTokenException"
	CodeIncorrectKeyMaterial     = "IncorrectKeyMaterialException"
	importTokenLifetime          = 24 * time.Hour
	maxImportTokenBytes          = 6144 // KMS's limit on ImportToken
	maxEncryptedKeyMaterialBytes = 6144 // and on EncryptedKeyMaterial
	maxImportedMaterialExpiry    = 365 * 24 * time.Hour
	expirationExpires            = "KEY_MATERIAL_EXPIRES"
	expirationDoesNotExpire      = "KEY_MATERIAL_DOES_NOT_EXPIRE"
	importTokenSpec              = "enclavekit import token" // Binding.KeySpec of a token
)

var wrappingKeyBits = map[string]int{"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}

// wrappingHash is the OAEP hash of the wrapping algorithms served.
// RSA_AES_KEY_WRAP_SHA_1 and _SHA_256 use it for the AES key (see
// unwrapKeyMaterial).
func wrappingHash(alg string) (crypto.Hash, error) {
	switch alg {
	case "RSAES_OAEP_SHA_1", "RSA_AES_KEY_WRAP_SHA_1":
		return crypto.SHA1, nil
	case "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_256":
		return crypto.SHA256, nil
	case "RSAES_PKCS1_V1_5":
		return 0, apiErr(CodeUnsupportedOperation, "WrappingAlgorithm RSAES_PKCS1_V1_5 is not supported (padding oracle); use RSAES_OAEP_SHA_256")
	case "SM2PKE":
		return 0, apiErr(CodeUnsupportedOperation, "WrappingAlgorithm SM2PKE is not supported (AWS offers it in the China Regions only; this server does not implement SM2)")
	}
	return 0, validation("1 validation error detected: Value '%s' at 'wrappingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, SM2PKE]", alg)
}

// checkWrapping refuses the wrapping algorithm alg with a wrapping key of
// wrapSpec (RSA_2048, RSA_3072 or RSA_4096) for key material of spec where
// AWS KMS does (GetParametersForImport's WrappingAlgorithm and
// WrappingKeySpec in the API reference; the developer guide's "Encrypt the
// key material"): RSA private keys need RSA_AES_KEY_WRAP (they do not fit
// one RSA-OAEP block); RSA_AES_KEY_WRAP wraps only RSA and ECC key
// material; RSAES_OAEP under RSA_2048 cannot wrap ECC_NIST_P521 (its
// PKCS #8 exceeds the block); and RSA_AES_KEY_WRAP is not offered in the
// China Regions (cn-*), where AWS wraps with SM2 instead, which this server
// does not implement.
func (s *Server) checkWrapping(spec, alg, wrapSpec string) error {
	rsaAES := isRSAAES(alg)
	switch {
	case rsaAES && strings.HasPrefix(s.cfg.Region, "cn-"):
		return apiErr(CodeUnsupportedOperation, "WrappingAlgorithm %s is not supported in the China Regions (%s); use RSAES_OAEP_SHA_256", alg, s.cfg.Region)
	case !rsaAES && strings.HasPrefix(spec, "RSA_"):
		return validation("WrappingAlgorithm %s cannot wrap %s key material: RSA private keys are imported with RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1", alg, spec)
	case rsaAES && !strings.HasPrefix(spec, "RSA_") && !strings.HasPrefix(spec, "ECC_"):
		return validation("WrappingAlgorithm %s wraps only RSA and ECC key material, not %s; use RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1", alg, spec)
	case !rsaAES && spec == string(keyspec.ECCNISTP521) && wrapSpec == "RSA_2048":
		return validation("WrappingAlgorithm %s with WrappingKeySpec RSA_2048 cannot wrap ECC_NIST_P521 key material: use WrappingKeySpec RSA_3072 or RSA_4096, or RSA_AES_KEY_WRAP_SHA_256", alg)
	}
	return nil
}

// isRSAAES reports whether alg is one of the two-step RSA_AES_KEY_WRAP
// wrapping algorithms.
func isRSAAES(alg string) bool { return strings.HasPrefix(alg, "RSA_AES_KEY_WRAP_") }

// unwrapKeyMaterial opens EncryptedKeyMaterial with the import token's
// wrapping key. RSAES_OAEP_*: RSAES-OAEP with the hash for both the label
// hash and MGF1, an empty label. RSA_AES_KEY_WRAP_* (AWS's import
// procedure, PKCS #11's CKM_RSA_AES_KEY_WRAP): the first modulus-length
// bytes are a 256-bit AES key under RSAES-OAEP as above, the rest the key
// material under that AES key with AES Key Wrap with Padding (RFC 5649,
// package keywrap). Every failure, in either step, is the same
// InvalidCiphertextException: the caller learns no more than "wrong".
func unwrapKeyMaterial(priv *rsa.PrivateKey, alg string, enc []byte) ([]byte, error) {
	h, _ := wrappingHash(alg)
	bad := apiErr(CodeInvalidCiphertext, "The encrypted key material could not be decrypted with the wrapping key of this import token (%s).", alg)
	if !isRSAAES(alg) {
		raw, err := rsa.DecryptOAEP(h.New(), nil, priv, enc, nil)
		if err != nil {
			return nil, bad
		}
		return raw, nil
	}
	n := priv.Size()
	if len(enc) <= n {
		return nil, bad
	}
	kek, err := rsa.DecryptOAEP(h.New(), nil, priv, enc[:n], nil)
	if err != nil || len(kek) != 32 {
		return nil, bad
	}
	raw, err := keywrap.Unwrap(kek, enc[n:])
	clear(kek)
	if err != nil {
		return nil, bad
	}
	return raw, nil
}

// importable loads an EXTERNAL key for an import operation and authorizes
// action on it. These operations cannot be called cross-account in AWS.
func (s *Server) importable(c *call, ref, action string) (*keystore.Key, error) {
	k, err := s.keyOfOwnAccount(c, ref, action)
	if err != nil {
		return nil, err
	}
	if k.Origin != keystore.OriginExternal {
		return nil, apiErr(CodeUnsupportedOperation, "%s has Origin AWS_KMS; key material can be imported only into keys created with Origin EXTERNAL.", s.keyARN(k.ID))
	}
	if k.State == keystore.StatePendingDeletion {
		return nil, apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
	}
	return k, nil
}

// importableSpecNames names the specs of importableSpec, for messages.
const importableSpecNames = "SYMMETRIC_DEFAULT, HMAC, RSA and ECC (NIST, secp256k1)"

// importableSpec reports whether keys of spec take imported material here:
// SYMMETRIC_DEFAULT (256 bits), HMAC (as long as the hash output up to the
// hash's block size) and the RSA and ECC specs (a PKCS #8 DER private key),
// AWS's own list but for SM2. ECC_NIST_EDWARDS25519, ML-KEM and ML-DSA
// keys are generated here only.
func importableSpec(spec string) bool {
	switch keyspec.Spec(spec) {
	case keyspec.SymmetricDefault, keyspec.HMAC224, keyspec.HMAC256, keyspec.HMAC384, keyspec.HMAC512,
		keyspec.RSA2048, keyspec.RSA3072, keyspec.RSA4096,
		keyspec.ECCNISTP256, keyspec.ECCNISTP384, keyspec.ECCNISTP521, keyspec.ECCSECGP256K1:
		return true
	}
	return false
}

// checkImportedMaterial checks unwrapped material against the key's spec
// and returns it as it is stored: 256 bits for SYMMETRIC_DEFAULT, the raw
// key for HMAC, and for RSA and ECC the private key as package keyspec
// re-encodes it (so the same key in another PKCS #8 form, OpenSSL's with
// the public key say, is the same material). Material of the wrong spec,
// size or form, or an ECC key whose embedded public key is not its own, is
// IncorrectKeyMaterialException.
func checkImportedMaterial(spec string, raw []byte) ([]byte, error) {
	if spec == specSymmetric {
		if len(raw) != 32 {
			return nil, apiErr(CodeIncorrectKeyMaterial, "SYMMETRIC_DEFAULT key material must be 256 bits, not %d", 8*len(raw))
		}
		return raw, nil
	}
	k, err := keyspec.ParsePrivateKey(keyspec.Spec(spec), raw)
	if err != nil {
		if keymaterial.IsHMAC(spec) {
			return nil, apiErr(CodeIncorrectKeyMaterial, "%s key material must be a raw HMAC key from the hash output's length to the hash's block size, not %d bytes", spec, len(raw))
		}
		return nil, apiErr(CodeIncorrectKeyMaterial, "%s key material must be a DER-encoded PKCS #8 private key of the key spec: %v", spec, err)
	}
	return k.Marshal(), nil
}

type importToken struct {
	KeyID   string `json:"k"`
	Alg     string `json:"a"`
	Spec    string `json:"s"`
	Expires int64  `json:"e"`
	Wrapped []byte `json:"w"`
}

func tokenBinding(keyID, alg, spec string, expires int64) keymaterial.Binding {
	return keymaterial.Binding{KeyID: keyID, KeySpec: importTokenSpec, KeyUsage: alg, State: spec, DeletionDate: time.Unix(expires, 0)}
}

func (s *Server) getParametersForImport(c *call, body []byte) (any, error) {
	var in struct {
		KeyID             string `json:"KeyId"`
		WrappingAlgorithm string `json:"WrappingAlgorithm"`
		WrappingKeySpec   string `json:"WrappingKeySpec"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if _, err := wrappingHash(in.WrappingAlgorithm); err != nil {
		return nil, err
	}
	bits, ok := wrappingKeyBits[in.WrappingKeySpec]
	if !ok {
		if in.WrappingKeySpec == "SM2" {
			return nil, apiErr(CodeUnsupportedOperation, "WrappingKeySpec SM2 is not supported (AWS offers it in the China Regions only; this server does not implement SM2)")
		}
		return nil, validation("1 validation error detected: Value '%s' at 'wrappingKeySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096]", in.WrappingKeySpec)
	}
	k, err := s.importable(c, in.KeyID, "kms:GetParametersForImport")
	if err != nil {
		return nil, err
	}
	if !importableSpec(k.KeySpec) { // not created with Origin EXTERNAL by this server
		return nil, apiErr(CodeUnsupportedOperation, "%s is a %s key; this server imports %s key material.", s.keyARN(k.ID), k.KeySpec, importableSpecNames)
	}
	if err := s.checkWrapping(k.KeySpec, in.WrappingAlgorithm, in.WrappingKeySpec); err != nil {
		return nil, err // before the costly key generation
	}
	release, err := s.startKeyGen(in.WrappingKeySpec)
	if err != nil {
		return nil, err
	}
	priv, err := rsa.GenerateKey(s.rand, bits)
	release()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	expires := c.now.Add(importTokenLifetime).Unix()
	wrapped, err := s.root.Wrap(s.rand, tokenBinding(k.ID, in.WrappingAlgorithm, in.WrappingKeySpec, expires), der)
	if err != nil {
		return nil, err
	}
	tok, err := json.Marshal(importToken{KeyID: k.ID, Alg: in.WrappingAlgorithm, Spec: in.WrappingKeySpec, Expires: expires, Wrapped: wrapped})
	if err != nil {
		return nil, err
	}
	return getParametersForImportOutput{KeyID: s.keyARN(k.ID), ImportToken: tok, PublicKey: pub,
		ParametersValidTo: float64(expires)}, nil
}

type getParametersForImportOutput struct {
	KeyID             string  `json:"KeyId"`
	ImportToken       []byte  `json:"ImportToken"`
	PublicKey         []byte  `json:"PublicKey"`
	ParametersValidTo float64 `json:"ParametersValidTo"`
}

// openImportToken returns the wrapping private key and algorithm of a
// token issued for key id, or the KMS error.
func (s *Server) openImportToken(c *call, id string, token []byte) (*rsa.PrivateKey, string, error) {
	var t importToken
	if len(token) > maxImportTokenBytes || json.Unmarshal(token, &t) != nil || t.KeyID != id {
		return nil, "", apiErr(CodeInvalidImportToken, "The import token is invalid.")
	}
	// The request's key ID, not the token's, is bound: a token for another
	// key fails here.
	der, _, err := s.root.Unwrap(tokenBinding(id, t.Alg, t.Spec, t.Expires), t.Wrapped)
	if err != nil {
		return nil, "", apiErr(CodeInvalidImportToken, "The import token is invalid or was issued for another key.")
	}
	if !c.now.Before(time.Unix(t.Expires, 0)) {
		return nil, "", apiErr(CodeExpiredImportToken, "The import token expired at %s; call GetParametersForImport again.", time.Unix(t.Expires, 0).UTC().Format(time.RFC3339))
	}
	pk, err := x509.ParsePKCS8PrivateKey(der)
	priv, ok := pk.(*rsa.PrivateKey)
	if err != nil || !ok {
		return nil, "", internalErr()
	}
	return priv, t.Alg, nil
}

// importedMaterialID is the material ID of imported material: a keyed
// fingerprint (HMAC under the root key's alias key) of the material and
// the key, so reimporting the same material keeps the ID its ciphertexts
// name, and different material is recognized without storing it.
func (s *Server) importedMaterialID(keyID string, raw []byte) string {
	h := sha256.Sum256(raw)
	return hex.EncodeToString(s.root.AliasMAC("import-material:"+hex.EncodeToString(h[:]), keyID))
}

func (s *Server) importKeyMaterial(c *call, body []byte) (any, error) {
	var in struct {
		KeyID                string   `json:"KeyId"`
		ImportToken          []byte   `json:"ImportToken"`
		EncryptedKeyMaterial []byte   `json:"EncryptedKeyMaterial"`
		ValidTo              *float64 `json:"ValidTo"`
		ExpirationModel      string   `json:"ExpirationModel"`
		ImportType           string   `json:"ImportType"`
		KeyMaterialID        string   `json:"KeyMaterialId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.ImportToken) == 0 || len(in.EncryptedKeyMaterial) == 0 {
		return nil, validation("ImportToken and EncryptedKeyMaterial are required")
	}
	if len(in.ImportToken) > maxImportTokenBytes {
		return nil, validation("1 validation error detected: Value at 'importToken' failed to satisfy constraint: Member must have length less than or equal to %d", maxImportTokenBytes)
	}
	if len(in.EncryptedKeyMaterial) > maxEncryptedKeyMaterialBytes {
		return nil, validation("1 validation error detected: Value at 'encryptedKeyMaterial' failed to satisfy constraint: Member must have length less than or equal to %d", maxEncryptedKeyMaterialBytes)
	}
	var validTo time.Time
	switch in.ExpirationModel {
	case "", expirationExpires, expirationDoesNotExpire:
	default:
		return nil, validation("ExpirationModel must be %s or %s", expirationExpires, expirationDoesNotExpire)
	}
	if in.ValidTo != nil {
		if in.ExpirationModel == expirationDoesNotExpire {
			return nil, validation("ValidTo is not allowed with ExpirationModel %s", expirationDoesNotExpire)
		}
		validTo = time.Unix(int64(*in.ValidTo), 0).UTC()
		if !validTo.After(c.now) || validTo.Sub(c.now) > maxImportedMaterialExpiry {
			return nil, validation("ValidTo must be in the future and at most 365 days away")
		}
	} else if in.ExpirationModel == expirationExpires {
		return nil, validation("ValidTo is required with ExpirationModel %s", expirationExpires)
	}
	if in.ImportType != "" && in.ImportType != "EXISTING_KEY_MATERIAL" && in.ImportType != "NEW_KEY_MATERIAL" {
		return nil, validation("ImportType must be NEW_KEY_MATERIAL or EXISTING_KEY_MATERIAL")
	}
	if in.ImportType == "NEW_KEY_MATERIAL" {
		return nil, apiErr(CodeUnsupportedOperation, "ImportType NEW_KEY_MATERIAL (on-demand rotation of imported keys) is not supported")
	}
	k, err := s.importable(c, in.KeyID, "kms:ImportKeyMaterial")
	if err != nil {
		return nil, err
	}
	priv, alg, err := s.openImportToken(c, k.ID, in.ImportToken)
	if err != nil {
		return nil, err
	}
	// Again: a token from a server without the rules, or from before a
	// change of Region, may name a combination they refuse.
	if err := s.checkWrapping(k.KeySpec, alg, fmt.Sprintf("RSA_%d", priv.N.BitLen())); err != nil {
		return nil, err
	}
	raw, err := unwrapKeyMaterial(priv, alg, in.EncryptedKeyMaterial)
	if err != nil {
		return nil, err
	}
	raw, err = checkImportedMaterial(k.KeySpec, raw)
	if err != nil {
		return nil, err
	}
	mid := s.importedMaterialID(k.ID, raw)
	if in.KeyMaterialID != "" && in.KeyMaterialID != mid {
		return nil, apiErr(CodeIncorrectKeyMaterial, "KeyMaterialId %s does not name this key material", in.KeyMaterialID)
	}
	updated, err := s.updateSealed(c.ctx, k.ID, func(cur *keystore.Key) error {
		if _, _, err := s.openRecord(cur); err != nil {
			return err
		}
		if cur.State == keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(cur.ID))
		}
		if cur.MaterialID != "" && cur.MaterialID != mid {
			return apiErr(CodeIncorrectKeyMaterial, "The key material is not the key material previously imported into %s; a key takes only the material first imported into it.", s.keyARN(cur.ID))
		}
		cur.MaterialID = mid
		cur.ValidTo = validTo
		if cur.State == keystore.StatePendingImport {
			cur.State = keystore.StateEnabled
		}
		return s.seal(cur, raw)
	})
	if err != nil {
		return nil, err
	}
	return importKeyMaterialOutput{KeyID: s.keyARN(updated.ID), KeyMaterialID: mid}, nil
}

type importKeyMaterialOutput struct {
	KeyID         string `json:"KeyId"`
	KeyMaterialID string `json:"KeyMaterialId"`
}

func (s *Server) deleteImportedKeyMaterial(c *call, body []byte) (any, error) {
	var in struct {
		KeyID         string `json:"KeyId"`
		KeyMaterialID string `json:"KeyMaterialId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.importable(c, in.KeyID, "kms:DeleteImportedKeyMaterial")
	if err != nil {
		return nil, err
	}
	if in.KeyMaterialID != "" && in.KeyMaterialID != k.MaterialID {
		return nil, apiErr(CodeNotFound, "Key material %s of %s does not exist", in.KeyMaterialID, s.keyARN(k.ID))
	}
	updated, err := s.updateSealed(c.ctx, k.ID, func(cur *keystore.Key) error {
		if _, _, err := s.openRecord(cur); err != nil {
			return err
		}
		if cur.State == keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(cur.ID))
		}
		cur.State = keystore.StatePendingImport
		cur.ValidTo = time.Time{}
		return s.seal(cur, nil)
	})
	if err != nil {
		return nil, err
	}
	s.materials.Delete(k.ID)
	return importKeyMaterialOutput{KeyID: s.keyARN(updated.ID), KeyMaterialID: updated.MaterialID}, nil
}
