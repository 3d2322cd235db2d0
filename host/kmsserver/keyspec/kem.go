// SPDX-License-Identifier: Apache-2.0

package keyspec

var encapsulationEnum = newEnum("[ML_KEM]")

func (k *Key) kemFor(op Operation, alg EncapsulationAlgorithm) error {
	if k.kem768 == nil && k.kem1024 == nil {
		return &KeyUsageError{Spec: k.spec, Usage: k.info.usages[0], Operation: op}
	}
	return checkEnum("encapsulationAlgorithm", string(alg), encapsulationEnum)
}

// Encapsulate returns a fresh 32-byte shared secret and its ML-KEM
// ciphertext (1088 bytes for ML_KEM_768, 1568 for ML_KEM_1024) under the
// key's encapsulation key, as AWS KMS Encapsulate. The key must be an ML-KEM
// key (InvalidKeyUsageException) and alg ML_KEM (ValidationException).
func (k *Key) Encapsulate(alg EncapsulationAlgorithm) (secret, ciphertext []byte, err error) {
	if err := k.kemFor(OpEncapsulate, alg); err != nil {
		return nil, nil, err
	}
	if k.kem768 != nil {
		secret, ciphertext = k.kem768.EncapsulationKey().Encapsulate()
	} else {
		secret, ciphertext = k.kem1024.EncapsulationKey().Encapsulate()
	}
	return secret, ciphertext, nil
}

// Decapsulate returns the shared secret of an ML-KEM ciphertext, as AWS KMS
// Decapsulate. A ciphertext of the wrong length is an
// [*InvalidCiphertextError]; a wrong ciphertext of the right length yields
// an unrelated secret (FIPS 203 implicit rejection), never an error.
func (k *Key) Decapsulate(alg EncapsulationAlgorithm, ciphertext []byte) ([]byte, error) {
	if err := k.kemFor(OpDecapsulate, alg); err != nil {
		return nil, err
	}
	var secret []byte
	var err error
	if k.kem768 != nil {
		secret, err = k.kem768.Decapsulate(ciphertext)
	} else {
		secret, err = k.kem1024.Decapsulate(ciphertext)
	}
	if err != nil {
		return nil, &InvalidCiphertextError{Algorithm: string(alg)}
	}
	return secret, nil
}
