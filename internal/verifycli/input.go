// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// MaxInput bounds the input read, in bytes. An AWS document is under 8 KiB
// raw (about 11 KiB as base64, 16 KiB as hex), and the NSM caps a response
// at 12 KiB.
const MaxInput = 64 << 10

// Encoding names how the input was written.
type Encoding string

// The encodings [Decode] detects.
const (
	EncodingRaw    Encoding = "cbor"
	EncodingHex    Encoding = "hex"
	EncodingBase64 Encoding = "base64"
)

// ErrTooLarge is returned by [ReadInput] for input over [MaxInput] bytes.
var ErrTooLarge = fmt.Errorf("input larger than %d bytes", MaxInput)

// ReadInput reads all of r, failing with [ErrTooLarge] beyond [MaxInput]
// bytes without reading much further.
func ReadInput(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxInput {
		return nil, ErrTooLarge
	}
	return b, nil
}

// Decode returns the document bytes in, detecting its encoding (see the
// package documentation). It fails only for empty input and for text that
// is neither hex nor base64; binary input is returned as is, for the
// verifier to judge. The result never aliases in.
func Decode(in []byte) ([]byte, Encoding, error) {
	if !isText(in) {
		return bytes.Clone(in), EncodingRaw, nil
	}
	s := stripSpace(in)
	if len(s) == 0 {
		return nil, "", errors.New("empty input")
	}
	if len(s)%2 == 0 && isHex(s) {
		b := make([]byte, len(s)/2)
		if _, err := hex.Decode(b, s); err == nil {
			return b, EncodingHex, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b := make([]byte, enc.DecodedLen(len(s)))
		n, err := enc.Strict().Decode(b, s)
		if err == nil {
			return b[:n], EncodingBase64, nil
		}
	}
	return nil, "", errors.New("text input is neither hex nor base64")
}

// isText reports whether b is only printable ASCII and whitespace. A
// COSE_Sign1 starts with 0x84 or a tag (0xc0-0xdb): never text.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && !isSpace(c) {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func stripSpace(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if !isSpace(c) {
			out = append(out, c)
		}
	}
	return out
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
