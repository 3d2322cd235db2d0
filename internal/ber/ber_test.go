// SPDX-License-Identifier: Apache-2.0

package ber

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dump renders the tree as "class/tag[c|p][i]{children}" with primitive
// contents in hex, to compare whole decodings at once.
func dump(t testing.TB, e Element) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString(string("UACP"[e.Class]))
	sb.WriteString(hex.EncodeToString([]byte{byte(e.Tag)}))
	if e.Indefinite {
		sb.WriteString("i")
	}
	if !e.Constructed {
		sb.WriteString("=" + hex.EncodeToString(e.Contents))
		return sb.String()
	}
	sb.WriteString("{")
	r, err := e.Children()
	if err != nil {
		t.Fatal(err)
	}
	for first := true; !r.Empty(); first = false {
		c, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !first {
			sb.WriteString(",")
		}
		sb.WriteString(dump(t, c))
	}
	sb.WriteString("}")
	return sb.String()
}

func TestParseValid(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"primitive", "04 02 aa bb", "U04=aabb"},
		{"empty primitive", "05 00", "U05="},
		{"definite sequence", "30 06 02 01 01 04 01 ff", "U10{U02=01,U04=ff}"},
		{"indefinite sequence", "30 80 02 01 01 00 00", "U10i{U02=01}"},
		{"empty indefinite", "30 80 00 00", "U10i{}"},
		{"nested indefinite", "30 80 a0 80 30 80 05 00 00 00 00 00 00 00", "U10i{C00i{U10i{U05=}}}"},
		{"definite inside indefinite", "30 80 31 03 02 01 07 00 00", "U10i{U11{U02=07}}"},
		{"long form length", "04 81 02 aa bb", "U04=aabb"},
		{"long form with leading zeros", "04 83 00 00 02 aa bb", "U04=aabb"},
		{"context primitive", "80 01 01", "C00=01"},
		{"high tag number", "9f 1f 01 05", "C1f=05"},
		{"private class", "df 81 00 00", "P80="},
		{"zero byte content that looks like EOC", "30 80 04 02 00 00 00 00", "U10i{U04=0000}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Parse(unhex(t, tc.in), Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := dump(t, e); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		lim      Limits
		kind     error
		off      int
	}{
		{"empty", "", Limits{}, ErrTruncated, 0},
		{"one byte", "30", Limits{}, ErrTruncated, 0},
		{"short primitive", "04 03 aa bb", Limits{}, ErrTruncated, 0},
		{"missing EOC", "30 80 02 01 01", Limits{}, ErrTruncated, 5},
		{"half EOC", "30 80 02 01 01 00", Limits{}, ErrTruncated, 5},
		{"nested missing EOC", "30 80 30 80 00 00", Limits{}, ErrTruncated, 6},
		{"incomplete long length", "04 82 01", Limits{}, ErrTruncated, 0},
		{"incomplete high tag", "1f 81", Limits{}, ErrTruncated, 0},
		{"trailing data", "05 00 00", Limits{}, ErrSyntax, 2},
		{"trailing EOC", "30 80 00 00 00 00", Limits{}, ErrSyntax, 4},
		{"indefinite primitive", "04 80 00 00", Limits{}, ErrSyntax, 0},
		{"reserved length", "04 ff", Limits{}, ErrSyntax, 0},
		{"five length octets", "04 85 00 00 00 00 01 aa", Limits{}, ErrSyntax, 0},
		{"non-minimal high tag 0x80", "9f 80 1f 00", Limits{}, ErrSyntax, 0},
		{"high tag below 31", "9f 05 00", Limits{}, ErrSyntax, 0},
		{"tag too large", "9f 81 81 81 81 01 00", Limits{}, ErrSyntax, 0},
		{"top-level EOC", "00 00", Limits{}, ErrSyntax, 0},
		{"EOC with length", "30 80 00 01 00 00 00", Limits{}, ErrSyntax, 2},
		{"constructed EOC", "30 80 20 00 00 00", Limits{}, ErrSyntax, 2},
		{"child overruns definite parent", "30 05 04 05 aa bb cc", Limits{}, ErrSyntax, 2},
		{"indefinite child overruns definite parent", "30 04 30 80 05 00", Limits{}, ErrSyntax, 6},
		{"input limit", "04 02 aa bb", Limits{MaxInput: 3}, ErrLimit, 0},
		{"depth limit", "30 80 30 80 30 80 00 00 00 00 00 00", Limits{MaxDepth: 1}, ErrLimit, 4},
		{"element limit", "30 80 05 00 05 00 05 00 00 00", Limits{MaxElements: 2}, ErrLimit, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Parse(unhex(t, tc.in), tc.lim)
			if err == nil {
				// Errors inside definite elements show up when reading down.
				err = walkAll(e)
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want %v", err, tc.kind)
			}
			var be *Error
			if !errors.As(err, &be) || be.Offset != tc.off {
				t.Fatalf("err = %#v, want offset %d", err, tc.off)
			}
		})
	}
}

// walkAll reads every element below e.
func walkAll(e Element) error {
	if !e.Constructed {
		return nil
	}
	r, err := e.Children()
	if err != nil {
		return err
	}
	for !r.Empty() {
		c, err := r.Next()
		if err != nil {
			return err
		}
		if err := walkAll(c); err != nil {
			return err
		}
	}
	return nil
}

func TestSegments(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"primitive", "80 03 01 02 03", "010203"},
		{"chunks", "a0 80 04 02 01 02 04 01 03 00 00", "010203"},
		{"definite chunks", "a0 07 04 02 01 02 04 01 03", "010203"},
		{"nested constructed", "a0 80 24 80 04 01 01 00 00 04 02 02 03 00 00", "010203"},
		{"no chunks", "a0 80 00 00", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Parse(unhex(t, tc.in), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			if err := e.Segments(func(s []byte) { got = append(got, s...) }); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, unhex(t, tc.want)) {
				t.Fatalf("got %x, want %s", got, tc.want)
			}
		})
	}
	e, err := Parse(unhex(t, "a0 80 02 01 01 00 00"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Segments(func([]byte) {}); !errors.Is(err, ErrSyntax) {
		t.Fatalf("INTEGER segment: err = %v, want ErrSyntax", err)
	}
}

func TestChildrenOfPrimitive(t *testing.T) {
	e, err := Parse(unhex(t, "04 00"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Children(); !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v, want ErrSyntax", err)
	}
}

// TestDeepNestingDefinite checks that the depth limit holds when reading
// down definite-length elements, which Parse does not walk.
func TestDeepNestingDefinite(t *testing.T) {
	in := []byte{0x05, 0x00}
	for range 40 {
		in = append([]byte{0x30, byte(len(in))}, in...)
	}
	e, err := Parse(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := walkAll(e); !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
}

// TestTruncatedVectors cuts the real CMS vectors at every offset: each prefix
// must be reported as truncated.
func TestTruncatedVectors(t *testing.T) {
	for _, in := range vectors(t) {
		if _, err := Parse(in, Limits{}); err != nil {
			t.Fatalf("full vector: %v", err)
		}
		for n := range len(in) {
			if _, err := Parse(in[:n], Limits{}); !errors.Is(err, ErrTruncated) {
				t.Fatalf("prefix of %d bytes: err = %v, want ErrTruncated", n, err)
			}
		}
	}
}

// vectors returns the CMS blobs in testvectors/aws (real KMS and OpenSSL output).
func vectors(t testing.TB) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(awsvectors.Path(t, "cms"), "*.ber"))
	if len(files) < 4 {
		t.Fatalf("expected at least 4 CMS vectors in testvectors/aws, found %d", len(files))
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestElementBudgetPerInput: MaxElements bounds the elements visited for
// one input, not for each indefinite-length element found in it. Sibling
// indefinite elements inside a definite one, each under the limit, and the
// same subtree walked again at each level of nesting, once cost
// MaxElements per element found: a 64 KiB envelope made of such chains
// cost about 18 times a real one's parse (found by review).
func TestElementBudgetPerInput(t *testing.T) {
	// An indefinite constructed OCTET STRING of n empty primitive segments.
	chain := func(n int) []byte {
		b := []byte{0x24, 0x80}
		for range n {
			b = append(b, 0x04, 0x00)
		}
		return append(b, 0, 0)
	}
	// Four siblings of 40 segments in a definite SEQUENCE: 164 visits, each
	// sibling's walk 41.
	var body []byte
	for range 4 {
		body = append(body, chain(40)...)
	}
	in := append([]byte{0x30, 0x82, byte(len(body) >> 8), byte(len(body))}, body...)
	for _, tc := range []struct {
		max  int
		want error
	}{{100, ErrLimit}, {200, nil}} {
		e, err := Parse(in, Limits{MaxElements: tc.max})
		if err == nil {
			err = walkAll(e)
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("MaxElements %d: err = %v, want %v", tc.max, err, tc.want)
		}
	}
	// Nesting: an indefinite element inside another is walked once for
	// the outer's end and again for its own; both count.
	nested := append(append([]byte{0x24, 0x80}, chain(40)...), 0, 0)
	for _, tc := range []struct {
		max  int
		want error
	}{{60, ErrLimit}, {90, nil}} {
		e, err := Parse(nested, Limits{MaxElements: tc.max})
		if err == nil {
			err = e.Segments(func([]byte) {})
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("nested, MaxElements %d: err = %v, want %v", tc.max, err, tc.want)
		}
	}
}
