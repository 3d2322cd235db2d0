// SPDX-License-Identifier: Apache-2.0

package emulator

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// head is one decoded CBOR item head.
type head struct {
	major  byte   // 0-7
	ai     byte   // additional information (24-27 = 1/2/4/8-byte argument, 31 = indefinite)
	arg    uint64 // the argument (length, value)
	hdrLen int
}

func readHead(t *testing.T, b []byte) head {
	t.Helper()
	if len(b) == 0 {
		t.Fatal("CBOR: unexpected end")
	}
	h := head{major: b[0] >> 5, ai: b[0] & 0x1f, hdrLen: 1}
	switch {
	case h.ai < 24:
		h.arg = uint64(h.ai)
	case h.ai <= 27:
		n := 1 << (h.ai - 24)
		if len(b) < 1+n {
			t.Fatal("CBOR: short head")
		}
		for _, c := range b[1 : 1+n] {
			h.arg = h.arg<<8 | uint64(c)
		}
		h.hdrLen += n
	case h.ai == 31:
	default:
		t.Fatalf("CBOR: reserved additional information %d", h.ai)
	}
	return h
}

// shape describes the CBOR item at the start of b the way the comparison
// needs it: major types, definite or indefinite lengths, the width of
// every head, exact lengths where they are fixed by the format (PCRs,
// signature) or by the request (user fields); map keys by value. It returns
// the shape and the rest of b.
func shape(t *testing.T, b []byte, exactLen bool) (string, []byte) {
	t.Helper()
	h := readHead(t, b)
	rest := b[h.hdrLen:]
	width := func() string { return fmt.Sprintf("ai%d", min(h.ai, 24+boolToByte(h.ai > 24)*(h.ai-24))) }
	switch h.major {
	case 0:
		return "uint/" + width(), rest
	case 2, 3:
		if h.ai == 31 {
			t.Fatal("indefinite-length string")
		}
		name := map[byte]string{2: "bstr", 3: "text"}[h.major]
		v := rest[:h.arg]
		rest = rest[h.arg:]
		if h.major == 3 {
			// Keys and the digest name by value; the module ID by length
			// (AWS's form "i-<17 hex>-enc<16 hex>" is 39 characters).
			if len(v) <= 12 {
				return name + ":" + string(v), rest
			}
			return fmt.Sprintf("%s(%d)", name, len(v)), rest
		}
		if exactLen {
			return fmt.Sprintf("%s(%d)", name, h.arg), rest
		}
		return name + "/" + width(), rest
	case 4, 5:
		var parts []string
		n := int(h.arg)
		kind := fmt.Sprintf("definite/%s", width())
		if h.ai == 31 {
			kind, n = "indefinite", -1
		}
		for i := 0; n < 0 || i < n; i++ {
			if n < 0 && rest[0] == 0xff {
				rest = rest[1:]
				break
			}
			var s string
			if h.major == 5 {
				var k string
				k, rest = shape(t, rest, true)
				s, rest = shape(t, rest, exactLen)
				s = k + "=>" + s
			} else {
				s, rest = shape(t, rest, exactLen)
			}
			parts = append(parts, s)
		}
		name := map[byte]string{4: "array", 5: "map"}[h.major]
		return fmt.Sprintf("%s(%s,%d)[%s]", name, kind, len(parts), strings.Join(parts, " ")), rest
	case 7:
		switch b[0] {
		case 0xf6:
			return "null", rest
		case 0xf4, 0xf5:
			return "bool", rest
		}
	}
	t.Fatalf("unexpected CBOR item 0x%02x", b[0])
	return "", nil
}

func boolToByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// payloadShapes splits a document into its envelope shape and the shapes
// of its payload's fields, in order.
func payloadShapes(t *testing.T, doc []byte) (envelope, mapHead string, fields []string) {
	t.Helper()
	h := readHead(t, doc)
	if h.major != 4 || h.arg != 4 || h.ai != 4 {
		t.Fatalf("document does not start with an untagged definite array of 4: 0x%02x", doc[0])
	}
	rest := doc[1:]
	prot, rest := shape(t, rest, true)
	unprot, rest := shape(t, rest, true)
	ph := readHead(t, rest)
	payload := rest[ph.hdrLen : ph.hdrLen+int(ph.arg)]
	payloadHead := fmt.Sprintf("bstr/ai%d", ph.ai)
	rest = rest[ph.hdrLen+int(ph.arg):]
	sig, rest := shape(t, rest, true)
	if len(rest) != 0 {
		t.Fatalf("%d trailing bytes", len(rest))
	}
	protBytes := doc[1 : 1+5]
	envelope = fmt.Sprintf("array4[%s=%x %s %s %s]", prot, protBytes, unprot, payloadHead, sig)

	mh := readHead(t, payload)
	if mh.major != 5 {
		t.Fatalf("payload is not a map")
	}
	mapHead = fmt.Sprintf("0x%02x", payload[0])
	p := payload[mh.hdrLen:]
	for i := 0; ; i++ {
		if mh.ai == 31 {
			if p[0] == 0xff {
				p = p[1:]
				break
			}
		} else if i == int(mh.arg) {
			break
		}
		var k, v string
		k, p = shape(t, p, true)
		// user fields are compared with exact lengths (the emulator is asked
		// for the same lengths); certificates by head width only.
		exact := strings.HasSuffix(k, "public_key") || strings.HasSuffix(k, "user_data") || strings.HasSuffix(k, "nonce") || strings.HasSuffix(k, "pcrs")
		v, p = shape(t, p, exact)
		fields = append(fields, k+" => "+v)
	}
	if len(p) != 0 {
		t.Fatalf("%d bytes after the payload map", len(p))
	}
	return envelope, mapHead, fields
}

// TestShapeMatchesRealDocuments compares emulator documents with every
// real AWS document in testvectors/aws, field for field: envelope
// (untagged, protected header bytes, empty unprotected map, 96-byte
// signature), payload key order, CBOR major types, head widths, PCR map
// keys and value lengths, cabundle length, null versus byte string for
// the optional fields. Only the payload map's length encoding differs for
// documents from before mid-2025 (definite), which AWS has since changed to
// the indefinite form the emulator writes.
func TestShapeMatchesRealDocuments(t *testing.T) {
	dir := awsvectors.Path(t, "attestation", "real")
	files, err := filepath.Glob(filepath.Join(dir, "*.cbor"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no real documents in %s: %v", dir, err)
	}
	indefinite := 0
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".cbor"), func(t *testing.T) {
			real, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rd, err := attestation.Parse(real)
			if err != nil {
				t.Fatalf("parse real document: %v", err)
			}
			e, _ := newTest(t, func(c *Config) {
				if rd.Debug() {
					c.PCRs, c.Debug = nil, true
				}
			})
			for i := 16; i < 32; i++ {
				if _, ok := rd.PCRs[i]; ok {
					if _, err := e.ExtendPCR(i, []byte("app")); err != nil {
						t.Fatal(err)
					}
					if err := e.LockPCR(i); err != nil {
						t.Fatal(err)
					}
				}
			}
			sameLen := func(b []byte) []byte {
				if b == nil {
					return nil
				}
				return make([]byte, len(b))
			}
			emu, err := e.Attestation(sameLen(rd.Nonce), sameLen(rd.UserData), sameLen(rd.PublicKey))
			if err != nil {
				t.Fatal(err)
			}
			renv, rhead, rfields := payloadShapes(t, real)
			eenv, ehead, efields := payloadShapes(t, emu)
			if renv != eenv {
				t.Errorf("envelope differs:\nreal:     %s\nemulator: %s", renv, eenv)
			}
			if ehead != "0xbf" {
				t.Errorf("emulator payload map head %s, want 0xbf (indefinite, as AWS since 2025)", ehead)
			}
			if rhead == "0xbf" {
				indefinite++
			} else if rhead != "0xa9" {
				t.Errorf("real payload map head %s", rhead)
			}
			if !slices.Equal(rfields, efields) {
				for i := range max(len(rfields), len(efields)) {
					var r, m string
					if i < len(rfields) {
						r = rfields[i]
					}
					if i < len(efields) {
						m = efields[i]
					}
					if r != m {
						t.Errorf("field %d differs:\nreal:     %.300s\nemulator: %.300s", i, r, m)
					}
				}
			}
		})
	}
	if indefinite == 0 {
		t.Error("no real document with an indefinite-length payload map was compared")
	}
}
