// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/testvectors"
)

func TestDecode(t *testing.T) {
	doc := []byte{0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0, 0x41, 0xff, 0x41, 0xfe} // starts like a document
	odd := []byte{0xfb, 0xff, 0xbf}                                                 // base64 needs + and / (or - and _)
	wrapped := base64.StdEncoding.EncodeToString(bytes.Repeat(doc, 20))
	wrapped = wrapped[:40] + "\n" + wrapped[40:80] + "\r\n" + wrapped[80:]
	tests := []struct {
		name string
		in   string
		want []byte
		enc  Encoding
	}{
		{"raw", string(doc), doc, EncodingRaw},
		{"raw with trailing newline", string(doc) + "\n", append(append([]byte{}, doc...), '\n'), EncodingRaw},
		{"hex lower", hex.EncodeToString(doc), doc, EncodingHex},
		{"hex upper with spaces", " " + strings.ToUpper(hex.EncodeToString(doc)) + " \n", doc, EncodingHex},
		{"hex wrapped", hex.EncodeToString(doc)[:6] + "\n" + hex.EncodeToString(doc)[6:], doc, EncodingHex},
		{"base64 std padded", base64.StdEncoding.EncodeToString(doc), doc, EncodingBase64},
		{"base64 std raw", base64.RawStdEncoding.EncodeToString(doc), doc, EncodingBase64},
		{"base64 url padded", base64.URLEncoding.EncodeToString(odd), odd, EncodingBase64},
		{"base64 url raw", base64.RawURLEncoding.EncodeToString(odd), odd, EncodingBase64},
		{"base64 std +/", base64.StdEncoding.EncodeToString(odd), odd, EncodingBase64},
		{"base64 line-wrapped", wrapped + "\n", bytes.Repeat(doc, 20), EncodingBase64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, enc, err := Decode([]byte(tc.in))
			if err != nil || enc != tc.enc || !bytes.Equal(got, tc.want) {
				t.Fatalf("Decode = %x, %q, %v; want %x, %q", got, enc, err, tc.want, tc.enc)
			}
		})
	}
	for _, bad := range []string{"", "  \n\t", "not base64!", "abd", "hEShATgi*"} {
		if got, enc, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) = %x, %q; want an error", bad, got, enc)
		}
	}
}

func TestDecodeVectors(t *testing.T) {
	files, err := fs.Glob(testvectors.FS, "*.cbor")
	if err != nil || len(files) == 0 {
		t.Fatal("no vectors", err)
	}
	for _, f := range files {
		raw, err := fs.ReadFile(testvectors.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range [][]byte{raw, []byte(hex.EncodeToString(raw)), []byte(base64.StdEncoding.EncodeToString(raw)),
			[]byte(base64.RawURLEncoding.EncodeToString(raw) + "\n")} {
			got, _, err := Decode(in)
			if err != nil || !bytes.Equal(got, raw) {
				t.Errorf("%s: %.20q decoded to %d bytes, %v", f, in, len(got), err)
			}
		}
	}
}

func TestReadInputBound(t *testing.T) {
	b, err := ReadInput(bytes.NewReader(make([]byte, MaxInput)))
	if err != nil || len(b) != MaxInput {
		t.Fatalf("at the limit: %d bytes, %v", len(b), err)
	}
	r := &countingReader{}
	if _, err := ReadInput(r); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless input: %v", err)
	}
	if r.n > 2*MaxInput {
		t.Errorf("read %d bytes of an endless input", r.n)
	}
}

type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	r.n += len(p)
	return len(p), nil
}

// FuzzDecode checks that input detection never panics, never returns
// bytes beside an error, and round-trips the encodings it recognises.
func FuzzDecode(f *testing.F) {
	files, _ := fs.Glob(testvectors.FS, "*.cbor")
	for i, name := range files {
		raw, err := fs.ReadFile(testvectors.FS, name)
		if err != nil {
			f.Fatal(err)
		}
		if i%4 != 0 { // a quarter of them suffices, in three encodings
			continue
		}
		f.Add(raw)
		f.Add([]byte(hex.EncodeToString(raw)))
		f.Add([]byte(base64.StdEncoding.EncodeToString(raw)))
	}
	f.Add([]byte(""))
	f.Add([]byte(" \n"))
	f.Add([]byte("-_-_"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, enc, err := Decode(in)
		if err != nil {
			if got != nil || enc != "" {
				t.Fatalf("result beside an error: %x %q %v", got, enc, err)
			}
			return
		}
		switch enc {
		case EncodingRaw:
			if !bytes.Equal(got, in) {
				t.Fatal("raw input changed")
			}
		case EncodingHex:
			if !strings.EqualFold(hex.EncodeToString(got), string(stripSpace(in))) {
				t.Fatal("hex does not round-trip")
			}
		case EncodingBase64:
			s := string(stripSpace(in))
			ok := false
			for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				ok = ok || e.EncodeToString(got) == s
			}
			if !ok {
				t.Fatalf("base64 %q does not round-trip", s)
			}
		default:
			t.Fatalf("unknown encoding %q", enc)
		}
	})
}

func hexs(b []byte) string { return hex.EncodeToString(b) }
func b64(b []byte) string  { return base64.StdEncoding.EncodeToString(b) }
