// SPDX-License-Identifier: Apache-2.0

package keywrap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// aivConstant is the high half of RFC 5649's Alternative Initial Value
// (section 3); the low half is the message length in bytes.
const aivConstant = 0xA65959A6

// MaxPlaintext bounds the plaintext of [Wrap]: RFC 5649's 32-bit message
// length indicator allows 2^32-1 bytes; this package takes far less, more
// than any key: 1 MiB.
const MaxPlaintext = 1 << 20

// Check names the check of [Unwrap] that failed.
type Check string

// The checks of [Unwrap], in the order it makes them.
const (
	// CheckLength: the ciphertext is not a multiple of 8 bytes, is shorter
	// than 16 bytes, or longer than a wrapped [MaxPlaintext].
	CheckLength Check = "length"
	// CheckIntegrity: the integrity check value (the high 32 bits of the
	// unwrapped initial value) is not A65959A6: the wrong key, or a
	// changed ciphertext.
	CheckIntegrity Check = "integrity check value"
	// CheckPadding: the message length indicator is outside the last
	// 8-byte block, or a padding byte is not zero.
	CheckPadding Check = "padding"
)

// Sentinels for errors.Is, one per [Check].
var (
	ErrLength    = errors.New("keywrap: bad ciphertext length")
	ErrIntegrity = errors.New("keywrap: integrity check failed")
	ErrPadding   = errors.New("keywrap: bad length indicator or padding")
)

// UnwrapError is a ciphertext that [Unwrap] refuses.
type UnwrapError struct {
	// Check is the check that failed.
	Check Check
	// Length is the ciphertext's length in bytes.
	Length int
}

func (e *UnwrapError) Error() string {
	return fmt.Sprintf("keywrap: %d-byte ciphertext fails the %s check", e.Length, e.Check)
}

// Unwrap returns the sentinel of e.Check.
func (e *UnwrapError) Unwrap() error {
	switch e.Check {
	case CheckLength:
		return ErrLength
	case CheckIntegrity:
		return ErrIntegrity
	default:
		return ErrPadding
	}
}

// Wrap wraps plaintext (1 to [MaxPlaintext] bytes) under the AES key kek
// (16, 24 or 32 bytes) with RFC 5649's algorithm: the ciphertext is the
// padded plaintext's length rounded up to 8 bytes, plus 8.
func Wrap(kek, plaintext []byte) ([]byte, error) {
	if len(plaintext) == 0 || len(plaintext) > MaxPlaintext {
		return nil, fmt.Errorf("keywrap: plaintext must be 1 to %d bytes, not %d", MaxPlaintext, len(plaintext))
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	padded := (len(plaintext) + 7) &^ 7
	out := make([]byte, 8+padded)
	binary.BigEndian.PutUint32(out[:4], aivConstant)
	binary.BigEndian.PutUint32(out[4:8], uint32(len(plaintext)))
	copy(out[8:], plaintext) // the padding stays zero
	if padded == 8 {
		// One block: AIV || P encrypted with AES in ECB mode (RFC 5649
		// section 4.1).
		b.Encrypt(out, out)
		return out, nil
	}
	wrap(b, out)
	return out, nil
}

// wrap is RFC 3394's wrapping process (section 2.2.1, index form) in place
// on buf = A || R[1] || ... || R[n], n >= 2.
func wrap(b cipher.Block, buf []byte) {
	n := len(buf)/8 - 1
	var blk [16]byte
	a := binary.BigEndian.Uint64(buf[:8])
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			r := buf[8*i : 8*i+8]
			binary.BigEndian.PutUint64(blk[:8], a)
			copy(blk[8:], r)
			b.Encrypt(blk[:], blk[:])
			a = binary.BigEndian.Uint64(blk[:8]) ^ uint64(n*j+i)
			copy(r, blk[8:])
		}
	}
	binary.BigEndian.PutUint64(buf[:8], a)
}

// unwrap is RFC 3394's unwrapping process (section 2.2.2, index form) in
// place on buf = C[0] || ... || C[n], n >= 2; it leaves the initial value
// in buf[:8].
func unwrap(b cipher.Block, buf []byte) {
	n := len(buf)/8 - 1
	var blk [16]byte
	a := binary.BigEndian.Uint64(buf[:8])
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			r := buf[8*i : 8*i+8]
			binary.BigEndian.PutUint64(blk[:8], a^uint64(n*j+i))
			copy(blk[8:], r)
			b.Decrypt(blk[:], blk[:])
			a = binary.BigEndian.Uint64(blk[:8])
			copy(r, blk[8:])
		}
	}
	binary.BigEndian.PutUint64(buf[:8], a)
}

// Unwrap opens a ciphertext of [Wrap] under kek and returns the plaintext,
// or an [*UnwrapError] (errors.Is [ErrLength], [ErrIntegrity] or
// [ErrPadding]); a kek of the wrong size is a plain error. The ciphertext
// is not modified.
func Unwrap(kek, ciphertext []byte) ([]byte, error) {
	if len(ciphertext)%8 != 0 || len(ciphertext) < 16 || len(ciphertext) > 8+MaxPlaintext {
		return nil, &UnwrapError{Check: CheckLength, Length: len(ciphertext)}
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, len(ciphertext))
	copy(buf, ciphertext)
	if len(buf) == 16 {
		b.Decrypt(buf, buf)
	} else {
		unwrap(b, buf)
	}
	if binary.BigEndian.Uint32(buf[:4]) != aivConstant {
		return nil, &UnwrapError{Check: CheckIntegrity, Length: len(ciphertext)}
	}
	// RFC 5649 section 3: 8*(n-1) < MLI <= 8*n, and the padding is zero.
	mli := int(binary.BigEndian.Uint32(buf[4:8]))
	padded := len(buf) - 8
	if mli <= padded-8 || mli > padded {
		return nil, &UnwrapError{Check: CheckPadding, Length: len(ciphertext)}
	}
	var pad [8]byte
	if subtle.ConstantTimeCompare(buf[8+mli:], pad[:padded-mli]) != 1 {
		return nil, &UnwrapError{Check: CheckPadding, Length: len(ciphertext)}
	}
	return buf[8 : 8+mli], nil
}
