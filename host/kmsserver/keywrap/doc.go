// SPDX-License-Identifier: Apache-2.0

// Package keywrap implements AES Key Wrap with Padding (RFC 5649, NIST SP
// 800-38F KWP), the symmetric half of AWS KMS's RSA_AES_KEY_WRAP_SHA_1 and
// RSA_AES_KEY_WRAP_SHA_256 import wrapping algorithms (and of PKCS #11's
// CKM_RSA_AES_KEY_WRAP). It is what OpenSSL calls id-aes256-wrap-pad
// (`openssl enc -id-aes256-wrap-pad -iv A65959A6`) with a 256-bit key
// encryption key; 128- and 192-bit keys work too.
//
// Neither the standard library nor golang.org/x/crypto has it. [Wrap] and
// [Unwrap] are the RFC's algorithms over crypto/aes, tested against the
// RFC's test vectors and against OpenSSL in both directions.
//
// [Unwrap] fails with an [*UnwrapError] whose Check says which check
// failed: the ciphertext's length, the integrity check value (the 32-bit
// constant A65959A6 of the alternative initial value), or the message
// length indicator and padding. Callers that decrypt for others (a key
// import) must not pass the difference on: answer every failure alike.
package keywrap
