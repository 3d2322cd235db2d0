// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// pair is one payload key and the CBOR encoding of its value.
type pair struct {
	key   string
	value []byte
}

// testDoc is a real document taken apart so that tests can change any part
// and encode it again. Changes to the payload invalidate the signature, so
// they are meant for paths that fail before it is checked.
type testDoc struct {
	prefix      []byte // before the array head: e.g. a tag
	arrayHead   []byte
	protected   []byte // encoded item (normally 44 a1013822)
	unprotected []byte // encoded item
	mapHead     []byte // payload map head (a9 or bf)
	pairs       []pair
	mapEnd      []byte // ff for an indefinite map
	payloadRaw  []byte // when set, replaces the encoded payload map
	payloadItem []byte // when set, replaces the whole payload bstr item
	signature   []byte // encoded item
	trailing    []byte
}

// realDoc splits a shared real document (default: a definite-map one).
func realDoc(tb testing.TB, name string) *testDoc {
	tb.Helper()
	data := awsvectors.ReadFile(tb, "attestation", "real", name+".cbor")
	var msg coseSign1
	if _, err := strictDecMode.UnmarshalFirst(data, &msg); err != nil {
		tb.Fatal(err)
	}
	d := &testDoc{
		arrayHead:   []byte{0x84},
		protected:   encBytes(msg.Protected),
		unprotected: []byte(msg.Unprotected),
		signature:   encBytes(msg.Signature),
	}
	p := msg.Payload
	rest := p[1:]
	d.mapHead = p[:1]
	if p[0] == 0xbf {
		d.mapEnd = []byte{0xff}
	}
	for len(rest) > 0 && rest[0] != 0xff {
		var k string
		var err error
		if rest, err = strictDecMode.UnmarshalFirst(rest, &k); err != nil {
			tb.Fatal(err)
		}
		next, err := strictDecMode.UnmarshalFirst(rest, new(any))
		if err != nil {
			tb.Fatal(err)
		}
		d.pairs = append(d.pairs, pair{k, rest[:len(rest)-len(next)]})
		rest = next
	}
	return d
}

func (d *testDoc) payload() []byte {
	if d.payloadRaw != nil {
		return d.payloadRaw
	}
	var b []byte
	b = append(b, d.mapHead...)
	for _, p := range d.pairs {
		b = append(b, encText(p.key)...)
		b = append(b, p.value...)
	}
	return append(b, d.mapEnd...)
}

func (d *testDoc) encode() []byte {
	var b []byte
	b = append(b, d.prefix...)
	b = append(b, d.arrayHead...)
	b = append(b, d.protected...)
	b = append(b, d.unprotected...)
	if d.payloadItem != nil {
		b = append(b, d.payloadItem...)
	} else {
		b = append(b, encBytes(d.payload())...)
	}
	b = append(b, d.signature...)
	return append(b, d.trailing...)
}

func (d *testDoc) set(key string, value []byte) {
	for i := range d.pairs {
		if d.pairs[i].key == key {
			d.pairs[i].value = value
			return
		}
	}
	panic("no key " + key)
}

func (d *testDoc) get(key string) []byte {
	for _, p := range d.pairs {
		if p.key == key {
			return p.value
		}
	}
	panic("no key " + key)
}

func (d *testDoc) remove(key string) {
	for i := range d.pairs {
		if d.pairs[i].key == key {
			d.pairs = append(d.pairs[:i], d.pairs[i+1:]...)
			return
		}
	}
	panic("no key " + key)
}

// head encodes a CBOR head.
func head(major byte, n int) []byte {
	m := major << 5
	switch {
	case n < 24:
		return []byte{m | byte(n)}
	case n <= 0xff:
		return []byte{m | 24, byte(n)}
	case n <= 0xffff:
		return []byte{m | 25, byte(n >> 8), byte(n)}
	default:
		return []byte{m | 26, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
}

func encBytes(b []byte) []byte { return append(head(2, len(b)), b...) }
func encText(s string) []byte  { return append(head(3, len(s)), s...) }
func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// pcrsWith encodes a pcrs map from explicit encoded entries.
func pcrsWith(entries ...[]byte) []byte {
	return cat(append([][]byte{head(5, len(entries))}, entries...)...)
}

func pcrEntry(i int, v []byte) []byte {
	if i < 0 {
		return cat(head(1, -1-i), encBytes(v))
	}
	return cat(head(0, i), encBytes(v))
}

func zeros(n int) []byte { return make([]byte, n) }

const (
	definiteDoc   = "2022-11-09_veracruz"
	indefiniteDoc = "2026-01-03_tempo_base_indefinite"
)

func TestParseReal(t *testing.T) {
	for _, name := range []string{definiteDoc, indefiniteDoc} {
		d := realDoc(t, name)
		data := d.encode()
		orig := awsvectors.ReadFile(t, "attestation", "real", name+".cbor")
		if !bytes.Equal(data, orig) {
			t.Fatalf("%s: test encoder does not round-trip", name)
		}
		doc, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(doc.Raw, data) || &doc.Raw[0] == &data[0] {
			t.Errorf("%s: Raw is not a copy of the input", name)
		}
	}
}

func TestParseRejects(t *testing.T) {
	type mod func(d *testDoc)
	tests := []struct {
		name string
		doc  string // "" = definiteDoc
		mod  mod
		want error
	}{
		// Envelope.
		{"trailing byte", "", func(d *testDoc) { d.trailing = []byte{0x00} }, ErrMalformed},
		{"tag 24", "", func(d *testDoc) { d.prefix = []byte{0xd8, 0x18} }, ErrMalformed},
		{"tag 98", "", func(d *testDoc) { d.prefix = []byte{0xd8, 0x62} }, ErrMalformed},
		{"tag 18 twice", "", func(d *testDoc) { d.prefix = []byte{0xd2, 0xd2} }, ErrMalformed},
		{"tag 18 non-minimal", "", func(d *testDoc) { d.prefix = []byte{0xd8, 0x12} }, ErrMalformed},
		{"indefinite array", "", func(d *testDoc) { d.arrayHead = []byte{0x9f}; d.trailing = []byte{0xff} }, ErrMalformed},
		{"array of 3", "", func(d *testDoc) { d.arrayHead = []byte{0x83}; d.signature = nil }, ErrMalformed},
		{"array of 5", "", func(d *testDoc) { d.arrayHead = []byte{0x85}; d.trailing = []byte{0xf6} }, ErrMalformed},
		{"map not array", "", func(d *testDoc) { d.arrayHead = []byte{0xa2} }, ErrMalformed},
		{"tag inside payload item", "", func(d *testDoc) { d.payloadItem = cat([]byte{0xd8, 0x18}, encBytes(d.payload())) }, ErrMalformed},
		{"indefinite payload bstr", "", func(d *testDoc) {
			p := d.payload()
			d.payloadItem = cat([]byte{0x5f}, encBytes(p[:10]), encBytes(p[10:]), []byte{0xff})
		}, ErrMalformed},
		{"payload as text", "", func(d *testDoc) { d.payloadItem = encText(string(d.payload())) }, ErrMalformed},
		// Headers.
		{"protected ES256", "", func(d *testDoc) { d.protected = encBytes([]byte{0xa1, 0x01, 0x26}) }, ErrUnsupportedAlgorithm},
		{"protected ES512", "", func(d *testDoc) { d.protected = encBytes([]byte{0xa1, 0x01, 0x38, 0x23}) }, ErrUnsupportedAlgorithm},
		{"protected text alg", "", func(d *testDoc) { d.protected = encBytes(cat([]byte{0xa1, 0x01}, encText("ES384"))) }, ErrMalformed},
		{"protected non-minimal -35", "", func(d *testDoc) { d.protected = encBytes([]byte{0xa1, 0x01, 0x39, 0x00, 0x22}) }, ErrMalformed},
		{"protected extra kid", "", func(d *testDoc) { d.protected = encBytes([]byte{0xa2, 0x01, 0x38, 0x22, 0x04, 0x40}) }, ErrMalformed},
		{"protected empty map", "", func(d *testDoc) { d.protected = encBytes([]byte{0xa0}) }, ErrMalformed},
		{"protected empty bstr", "", func(d *testDoc) { d.protected = []byte{0x40} }, ErrMalformed},
		{"protected not bstr", "", func(d *testDoc) { d.protected = []byte{0xa1, 0x01, 0x38, 0x22} }, ErrMalformed},
		{"unprotected kid", "", func(d *testDoc) { d.unprotected = []byte{0xa1, 0x04, 0x40} }, ErrMalformed},
		{"unprotected indefinite empty", "", func(d *testDoc) { d.unprotected = []byte{0xbf, 0xff} }, ErrMalformed},
		{"unprotected null", "", func(d *testDoc) { d.unprotected = []byte{0xf6} }, ErrMalformed},
		{"signature 95 bytes", "", func(d *testDoc) { d.signature = encBytes(zeros(95)) }, ErrMalformed},
		{"signature 97 bytes", "", func(d *testDoc) { d.signature = encBytes(zeros(97)) }, ErrMalformed},
		{"signature 0 bytes", "", func(d *testDoc) { d.signature = encBytes(nil) }, ErrMalformed},
		{"signature ES256 sized", "", func(d *testDoc) { d.signature = encBytes(zeros(64)) }, ErrUnsupportedAlgorithm},
		{"signature ES512 sized", "", func(d *testDoc) { d.signature = encBytes(zeros(132)) }, ErrUnsupportedAlgorithm},
		{"signature text", "", func(d *testDoc) { d.signature = encText(string(zeros(96))) }, ErrMalformed},
		// Payload map.
		{"payload empty", "", func(d *testDoc) { d.payloadRaw = []byte{} }, ErrMalformed},
		{"payload array", "", func(d *testDoc) { d.mapHead = []byte{0x89} }, ErrMalformed},
		{"payload trailing", "", func(d *testDoc) { d.mapEnd = []byte{0x00} }, ErrMalformed},
		{"indefinite payload trailing", indefiniteDoc, func(d *testDoc) { d.mapEnd = []byte{0xff, 0x00} }, ErrMalformed},
		{"indefinite payload no break", indefiniteDoc, func(d *testDoc) { d.mapEnd = nil }, ErrMalformed},
		{"definite count too high", "", func(d *testDoc) { d.mapHead = []byte{0xaa} }, ErrMalformed},
		{"definite count too low", "", func(d *testDoc) { d.mapHead = []byte{0xa8} }, ErrMalformed},
		{"duplicate key", "", func(d *testDoc) { d.pairs[8] = d.pairs[0] }, ErrMalformed},
		{"ten pairs", "", func(d *testDoc) { d.pairs = append(d.pairs, d.pairs[0]); d.mapHead = []byte{0xaa} }, ErrMalformed},
		{"duplicate key indefinite", indefiniteDoc, func(d *testDoc) { d.pairs = append(d.pairs, pair{"nonce", []byte{0xf6}}) }, ErrMalformed},
		{"unknown key", "", func(d *testDoc) { d.pairs = append(d.pairs, pair{"extra", []byte{0xf6}}); d.mapHead = []byte{0xaa} }, ErrMalformed},
		{"unknown key replacing optional", "", func(d *testDoc) { d.pairs[8].key = "nonce2" }, ErrMalformed},
		{"case variant Module_id", "", func(d *testDoc) { d.pairs[0].key = "Module_id" }, ErrMalformed},
		{"case variant PCRS", "", func(d *testDoc) { d.pairs[3].key = "PCRS" }, ErrMalformed},
		{"integer key", "", func(d *testDoc) { d.payloadRaw = cat([]byte{0xa1, 0x01}, encText("x")) }, ErrMalformed},
		{"missing module_id", "", func(d *testDoc) { d.remove("module_id"); d.mapHead = []byte{0xa8} }, ErrMalformed},
		{"missing cabundle", indefiniteDoc, func(d *testDoc) { d.remove("cabundle") }, ErrMalformed},
		{"nitrotpm_pcrs", "", func(d *testDoc) { d.pairs[3].key = "nitrotpm_pcrs" }, ErrNotEnclave},
		// Fields.
		{"module_id bytes", "", func(d *testDoc) { d.set("module_id", encBytes([]byte("i-0"))) }, ErrMalformed},
		{"module_id empty", "", func(d *testDoc) { d.set("module_id", encText("")) }, ErrMalformed},
		{"module_id long", "", func(d *testDoc) { d.set("module_id", encText(strings.Repeat("i", MaxModuleIDLen+1))) }, ErrMalformed},
		{"module_id indefinite", "", func(d *testDoc) { d.set("module_id", cat([]byte{0x7f}, encText("i-"), encText("0"), []byte{0xff})) }, ErrMalformed},
		{"module_id invalid utf8", "", func(d *testDoc) { d.set("module_id", encText("i-\xff")) }, ErrMalformed},
		{"module_id null", "", func(d *testDoc) { d.set("module_id", []byte{0xf6}) }, ErrMalformed},
		{"digest SHA256", "", func(d *testDoc) { d.set("digest", encText("SHA256")) }, ErrMalformed},
		{"digest sha384", "", func(d *testDoc) { d.set("digest", encText("sha384")) }, ErrMalformed},
		{"timestamp text", "", func(d *testDoc) { d.set("timestamp", encText("1668034320696")) }, ErrMalformed},
		{"timestamp negative", "", func(d *testDoc) { d.set("timestamp", head(1, 5)) }, ErrMalformed},
		{"timestamp float", "", func(d *testDoc) { d.set("timestamp", []byte{0xfb, 0x42, 0x78, 0x45, 0xe9, 0x7d, 0x0b, 0x38, 0x00}) }, ErrMalformed},
		{"timestamp zero", "", func(d *testDoc) { d.set("timestamp", []byte{0x00}) }, ErrMalformed},
		{"timestamp huge", "", func(d *testDoc) { d.set("timestamp", []byte{0x1b, 0xff, 0, 0, 0, 0, 0, 0, 0}) }, ErrMalformed},
		{"timestamp tagged", "", func(d *testDoc) { d.set("timestamp", cat([]byte{0xc1}, d.get("timestamp"))) }, ErrMalformed},
		{"pcr 47 bytes", "", func(d *testDoc) { d.set("pcrs", pcrsWith(pcrEntry(0, zeros(47)))) }, ErrMalformed},
		{"pcr 0 bytes", "", func(d *testDoc) { d.set("pcrs", pcrsWith(pcrEntry(0, nil))) }, ErrMalformed},
		{"pcr 65 bytes", "", func(d *testDoc) { d.set("pcrs", pcrsWith(pcrEntry(0, zeros(65)))) }, ErrMalformed},
		// 32 and 64 bytes are the spec's bound; digest SHA384 says 48.
		{"pcr 32 bytes, digest SHA384", "", func(d *testDoc) { d.set("pcrs", pcrsWith(pcrEntry(0, zeros(48)), pcrEntry(1, zeros(32)))) }, ErrMalformed},
		{"pcr 64 bytes, digest SHA384", "", func(d *testDoc) { d.set("pcrs", pcrsWith(pcrEntry(0, zeros(64)))) }, ErrMalformed},
		{"pcr 64 bytes, pcrs before digest", "", func(d *testDoc) {
			d.set("pcrs", pcrsWith(pcrEntry(0, zeros(64))))
			d.pairs[1], d.pairs[3] = d.pairs[3], d.pairs[1]
		}, ErrMalformed},
		{"pcr index 32", "", func(d *testDoc) { d.set("pcrs", pcrsWith(pcrEntry(0, zeros(48)), pcrEntry(32, zeros(48)))) }, ErrMalformed},
		{"pcr index -1", "", func(d *testDoc) { d.set("pcrs", pcrsWith(pcrEntry(-1, zeros(48)))) }, ErrMalformed},
		{"pcr text key", "", func(d *testDoc) { d.set("pcrs", cat([]byte{0xa1}, encText("0"), encBytes(zeros(48)))) }, ErrMalformed},
		{"pcr text value", "", func(d *testDoc) { d.set("pcrs", cat([]byte{0xa1, 0x00}, encText(string(zeros(48))))) }, ErrMalformed},
		{"pcr indefinite value", "", func(d *testDoc) {
			d.set("pcrs", cat([]byte{0xa1, 0x00, 0x5f}, encBytes(zeros(24)), encBytes(zeros(24)), []byte{0xff}))
		}, ErrMalformed},
		{"pcr duplicate index", "", func(d *testDoc) { d.set("pcrs", pcrsWith(pcrEntry(1, zeros(48)), pcrEntry(1, zeros(48)))) }, ErrMalformed},
		{"pcrs empty", "", func(d *testDoc) { d.set("pcrs", []byte{0xa0}) }, ErrMalformed},
		{"pcrs null", "", func(d *testDoc) { d.set("pcrs", []byte{0xf6}) }, ErrMalformed},
		{"pcrs indefinite", "", func(d *testDoc) { d.set("pcrs", cat([]byte{0xbf}, pcrEntry(0, zeros(48)), []byte{0xff})) }, ErrMalformed},
		{"pcrs 33 entries", "", func(d *testDoc) {
			var e [][]byte
			for i := range 33 {
				e = append(e, pcrEntry(i, zeros(32)))
			}
			d.set("pcrs", pcrsWith(e...))
		}, ErrMalformed},
		{"pcrs array", "", func(d *testDoc) { d.set("pcrs", cat([]byte{0x81}, encBytes(zeros(48)))) }, ErrMalformed},
		{"certificate empty", "", func(d *testDoc) { d.set("certificate", []byte{0x40}) }, ErrMalformed},
		{"certificate 1025 bytes", "", func(d *testDoc) { d.set("certificate", encBytes(zeros(1025))) }, ErrMalformed},
		{"certificate garbage", "", func(d *testDoc) { d.set("certificate", encBytes(zeros(100))) }, ErrMalformed},
		{"certificate text", "", func(d *testDoc) { d.set("certificate", encText("MIIC")) }, ErrMalformed},
		{"cabundle empty", "", func(d *testDoc) { d.set("cabundle", []byte{0x80}) }, ErrMalformed},
		{"cabundle 9", "", func(d *testDoc) {
			c := encBytes(zeros(10))
			d.set("cabundle", cat([]byte{0x89}, bytes.Repeat(c, 9)))
		}, ErrMalformed},
		{"cabundle indefinite", "", func(d *testDoc) { d.set("cabundle", cat([]byte{0x9f}, d.get("cabundle")[1:], []byte{0xff})) }, ErrMalformed},
		{"cabundle element null", "", func(d *testDoc) { d.set("cabundle", cat([]byte{0x85}, d.get("cabundle")[1:], []byte{0xf6})) }, ErrMalformed},
		{"cabundle element 1025", "", func(d *testDoc) { d.set("cabundle", cat([]byte{0x85}, d.get("cabundle")[1:], encBytes(zeros(1025)))) }, ErrMalformed},
		{"cabundle map", "", func(d *testDoc) { d.set("cabundle", []byte{0xa0}) }, ErrMalformed},
		{"public_key 1025 bytes", "", func(d *testDoc) { d.set("public_key", encBytes(zeros(1025))) }, ErrMalformed},
		{"user_data 1025 bytes", "", func(d *testDoc) { d.set("user_data", encBytes(zeros(1025))) }, ErrMalformed},
		{"nonce 1025 bytes", "", func(d *testDoc) { d.set("nonce", encBytes(zeros(1025))) }, ErrMalformed},
		{"nonce undefined", "", func(d *testDoc) { d.set("nonce", []byte{0xf7}) }, ErrMalformed},
		{"nonce text", "", func(d *testDoc) { d.set("nonce", encText("abc")) }, ErrMalformed},
		{"nonce false", "", func(d *testDoc) { d.set("nonce", []byte{0xf4}) }, ErrMalformed},
		{"user_data indefinite", "", func(d *testDoc) { d.set("user_data", cat([]byte{0x5f}, encBytes([]byte{1}), []byte{0xff})) }, ErrMalformed},
		{"user_data tagged", "", func(d *testDoc) { d.set("user_data", cat([]byte{0xd8, 0x18}, encBytes([]byte{1}))) }, ErrMalformed},
		{"public_key 8-byte length", "", func(d *testDoc) { d.set("public_key", []byte{0x5b, 0, 0, 0, 1, 0, 0, 0, 0}) }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := tt.doc
			if name == "" {
				name = definiteDoc
			}
			d := realDoc(t, name)
			tt.mod(d)
			data := d.encode()
			doc, err := Parse(data)
			if doc != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Parse: doc %v, err %v, want %v", doc != nil, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "attestation: ") {
				t.Errorf("message %q lacks the package prefix", err)
			}
			checkNoGoNames(t, err)
			// Verify fails the same way, before any signature check.
			doc, err = Verify(data, Options{AtDocumentTime: true, AllowDebugUnsafe: true})
			if doc != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify: doc %v, err %v, want %v", doc != nil, err, tt.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(d *testDoc)
		check func(t *testing.T, doc *Document)
	}{
		{"optional fields omitted", func(d *testDoc) {
			d.remove("public_key")
			d.remove("user_data")
			d.remove("nonce")
			d.mapHead = []byte{0xa6}
		}, func(t *testing.T, doc *Document) {
			if doc.PublicKey != nil || doc.UserData != nil || doc.Nonce != nil {
				t.Error("omitted fields are not nil")
			}
		}},
		{"null fields", func(d *testDoc) {
			d.set("user_data", []byte{0xf6})
			d.set("nonce", []byte{0xf6})
		}, func(t *testing.T, doc *Document) {
			if doc.UserData != nil || doc.Nonce != nil {
				t.Error("null fields are not nil")
			}
		}},
		{"empty fields", func(d *testDoc) {
			d.set("public_key", []byte{0x40})
			d.set("nonce", []byte{0x40})
		}, func(t *testing.T, doc *Document) {
			if doc.PublicKey == nil || len(doc.PublicKey) != 0 || doc.Nonce == nil || len(doc.Nonce) != 0 {
				t.Error("empty fields are not empty and non-nil")
			}
		}},
		{"1024-byte fields", func(d *testDoc) {
			d.set("public_key", encBytes(zeros(1024)))
			d.set("user_data", encBytes(zeros(1024)))
			d.set("nonce", encBytes(zeros(1024)))
		}, func(t *testing.T, doc *Document) {
			if len(doc.PublicKey)+len(doc.UserData)+len(doc.Nonce) != 3072 {
				t.Error("1024-byte fields not kept")
			}
		}},
		{"32 PCRs, reordered keys, pcrs before digest", func(d *testDoc) {
			var e [][]byte
			for i := range 32 {
				e = append(e, pcrEntry(31-i, bytes.Repeat([]byte{byte(31 - i)}, 48)))
			}
			d.set("pcrs", pcrsWith(e...))
			d.pairs[0], d.pairs[8] = d.pairs[8], d.pairs[0]
			d.pairs[1], d.pairs[3] = d.pairs[3], d.pairs[1]
		}, func(t *testing.T, doc *Document) {
			if len(doc.PCRs) != 32 || len(doc.PCRs[31]) != 48 || doc.PCRs[30][0] != 30 {
				t.Error("PCRs not decoded")
			}
		}},
		{"tag 18", func(d *testDoc) { d.prefix = []byte{0xd2} }, nil},
		{"indefinite map", func(d *testDoc) { d.mapHead = []byte{0xbf}; d.mapEnd = []byte{0xff} }, nil},
		{"definite map, one-byte count", func(d *testDoc) { d.mapHead = []byte{0xb8, 0x09} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := realDoc(t, definiteDoc)
			tt.mod(d)
			data := d.encode()
			doc, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !bytes.Equal(doc.Raw, data) {
				t.Error("Raw differs from the input")
			}
			if tt.check != nil {
				tt.check(t, doc)
			}
		})
	}
}

// TestVerifyTag18 checks that tag 18, outside the signed content, does not
// change the verdict, and that a modified payload fails the signature.
func TestVerifyTag18AndModifiedPayload(t *testing.T) {
	d := realDoc(t, definiteDoc)
	ts := time.Date(2022, 11, 9, 22, 53, 0, 0, time.UTC)
	opts := Options{AtDocumentTime: true, CurrentTime: ts}
	d.prefix = []byte{0xd2}
	if _, err := Verify(d.encode(), opts); err != nil {
		t.Fatalf("tag 18: %v", err)
	}
	d.prefix = nil
	d.set("user_data", encBytes([]byte("forged")))
	if _, err := Verify(d.encode(), opts); !errors.Is(err, ErrBadSignature) || ErrorCode(err) != "bad_signature" {
		t.Fatalf("modified payload: %v", err)
	}
	d = realDoc(t, definiteDoc)
	d.mapHead = []byte{0xbf} // same fields, indefinite map: different signed bytes
	d.mapEnd = []byte{0xff}
	if _, err := Verify(d.encode(), opts); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("re-encoded payload: %v", err)
	}
}

func TestParseLimits(t *testing.T) {
	if _, err := Parse(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("nil: %v", err)
	}
	big := make([]byte, MaxDocumentSize+1)
	big[0] = 0x84
	var me *MalformedError
	if _, err := Parse(big); !errors.As(err, &me) || !strings.Contains(me.Reason, "limit") {
		t.Errorf("oversized: %v", err)
	}
	// Deep nesting and huge declared lengths fail fast without allocating.
	deep := bytes.Repeat([]byte{0x81}, 10000)
	if _, err := Parse(deep); !errors.Is(err, ErrMalformed) {
		t.Errorf("deep: %v", err)
	}
	huge := []byte{0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0, 0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if n := testing.AllocsPerRun(10, func() { _, _ = Parse(huge) }); n > 20 {
		t.Errorf("huge declared length: %v allocations", n)
	}
}

// TestParseProtectedHeaderMessageBounded: the protected header is the
// sender's to write, up to the whole document; a MalformedError shows at
// most its first bytes and its length, not all of it in hex.
func TestParseProtectedHeaderMessageBounded(t *testing.T) {
	d := realDoc(t, definiteDoc)
	d.protected = encBytes(bytes.Repeat([]byte{0x41}, 20<<10))
	_, err := Parse(d.encode())
	var me *MalformedError
	if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) || me.Field != "protected header" {
		t.Fatalf("Parse: %v, want a MalformedError for the protected header", err)
	}
	if len(err.Error()) > 512 || !strings.Contains(err.Error(), "20480 bytes") {
		t.Errorf("message of %d bytes, want at most 512 naming the header's length: %.200s", len(err.Error()), err)
	}
	d.protected = encBytes([]byte{0xa1, 0x01, 0x38, 0x23, 0x00})
	if _, err := Parse(d.encode()); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "a101382300,") {
		t.Errorf("a short header is shown whole: %v", err)
	}
}

// goNames are fragments of the CBOR library's messages that name Go types
// or its own options; none may reach a user (nitro-verify prints these
// messages, kms-server returns them in a ValidationException).
var goNames = []string{"Go value", "Go struct", "Go's", "attestation.", "[]uint8", "toarray", "cbor:", "RawMessage"}

// checkNoGoNames fails the test if err's message names a Go type.
func checkNoGoNames(tb testing.TB, err error) {
	tb.Helper()
	for _, s := range goNames {
		if strings.Contains(err.Error(), s) {
			tb.Errorf("message names %q: %v", s, err)
		}
	}
}

// TestParseRejectReasons: the reasons for input the CBOR library refuses
// say what was expected and what was found, in CBOR's terms.
func TestParseRejectReasons(t *testing.T) {
	const prefix = "attestation: malformed document: "
	tests := []struct {
		name  string
		mod   func(d *testDoc)
		field string
		want  string
	}{
		{"array of 3", func(d *testDoc) { d.arrayHead = []byte{0x83}; d.signature = nil },
			"COSE_Sign1", "COSE_Sign1: want an array of 4 elements, found an array of 3 elements"},
		{"array of 5", func(d *testDoc) { d.arrayHead = []byte{0x85}; d.trailing = []byte{0xf6} },
			"COSE_Sign1", "COSE_Sign1: want an array of 4 elements, found an array of 5 elements"},
		{"map not array", func(d *testDoc) { d.arrayHead = []byte{0xa2} },
			"COSE_Sign1", "COSE_Sign1: want an array of 4 elements, found a map"},
		{"protected not bstr", func(d *testDoc) { d.protected = []byte{0xa1, 0x01, 0x38, 0x22} },
			"protected header", "protected header: want a byte string, found a map"},
		{"payload integer", func(d *testDoc) { d.payloadItem = []byte{0x01} },
			"payload", "payload: want a byte string, found an unsigned integer"},
		{"signature text", func(d *testDoc) { d.signature = encText(string(zeros(96))) },
			"signature", "signature: want a byte string, found a text string"},
		{"truncated", func(d *testDoc) { d.signature = d.signature[:40] },
			"COSE_Sign1", "COSE_Sign1: truncated"},
		{"pcr text key", func(d *testDoc) { d.set("pcrs", cat([]byte{0xa1}, encText("0"), encBytes(zeros(48)))) },
			"pcrs", "pcrs: want integer keys (PCR indexes), found a text string"},
		{"pcr huge key", func(d *testDoc) {
			d.set("pcrs", cat([]byte{0xa1, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, encBytes(zeros(48))))
		}, "pcrs", "pcrs: want integer keys (PCR indexes), found an out-of-range integer"},
		{"pcr duplicate index", func(d *testDoc) { d.set("pcrs", pcrsWith(pcrEntry(1, zeros(48)), pcrEntry(1, zeros(48)))) },
			"pcrs", "pcrs: duplicate map key 1"},
		{"protected header empty", func(d *testDoc) { d.protected = []byte{0x40} },
			"protected header", "protected header: empty, want exactly a1013822 ({1: -35}, ES384)"},
		{"protected header other", func(d *testDoc) { d.protected = []byte{0x42, 0xa0, 0xf6} },
			"protected header", "protected header: a0f6, want exactly a1013822 ({1: -35}, ES384)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := realDoc(t, definiteDoc)
			tt.mod(d)
			_, err := Parse(d.encode())
			var me *MalformedError
			if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) || ErrorCode(err) != CodeMalformed {
				t.Fatalf("Parse: %v, want a MalformedError", err)
			}
			if me.Field != tt.field || err.Error() != prefix+tt.want {
				t.Errorf("Parse: field %q, %q\nwant field %q, %q", me.Field, err, tt.field, prefix+tt.want)
			}
		})
	}
	// Input that is not a COSE_Sign1 array at all.
	for _, tt := range []struct {
		in   []byte
		want string
	}{
		{[]byte{0x18, 0x2a}, "COSE_Sign1: want an array of 4 elements, found an unsigned integer"},
		{encText("hello"), "COSE_Sign1: want an array of 4 elements, found a text string"},
		{[]byte{0xa1, 0x01, 0x02}, "COSE_Sign1: want an array of 4 elements, found a map"},
		{[]byte{0xd2, 0x80}, "COSE_Sign1: want an array of 4 elements, found an array of 0 elements"},
		{[]byte{0xd2}, "COSE_Sign1: truncated"},
		{[]byte{0x84, 0x44}, "COSE_Sign1: truncated"},
	} {
		_, err := Parse(tt.in)
		if err == nil || err.Error() != prefix+tt.want {
			t.Errorf("Parse(%x): %v, want %q", tt.in, err, prefix+tt.want)
		}
	}
}

// TestParseMessagesNameNoGoTypes parses every seed vector and mutations of
// each (truncations, a replaced head byte) as an enclave and as a NitroTPM
// document: no message names a Go type or the CBOR library.
func TestParseMessagesNameNoGoTypes(t *testing.T) {
	heads := []byte{0x00, 0x18, 0x1b, 0x20, 0x40, 0x5f, 0x60, 0x7f, 0x80, 0x83, 0x85, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xd2, 0xf4, 0xf6, 0xf7, 0xf9, 0xfb, 0xff}
	n := 0
	check := func(data []byte) {
		if _, err := Parse(data); err != nil {
			checkNoGoNames(t, err)
			n++
		}
		if _, err := ParseNitroTPM(data); err != nil {
			checkNoGoNames(t, err)
		}
	}
	for _, seed := range seedVectors(t) {
		check(seed)
		for l := 0; l < len(seed); l += 1 + l/8 {
			check(seed[:l])
		}
		for i := 0; i < 24 && i < len(seed); i++ {
			for _, b := range heads {
				m := bytes.Clone(seed)
				m[i] = b
				check(m)
			}
		}
	}
	if n < 1000 {
		t.Errorf("only %d rejections checked", n)
	}
}

// TestParseRejectsNonMinimalEnvelope: the COSE_Sign1 envelope of a real
// AWS document with one of its heads (array, protected header, payload or
// signature length) in a longer form than CBOR's shortest is refused; the
// signed bytes are the same, so each would otherwise verify, giving one
// document endless encodings. The tagged and untagged shortest forms stay
// the only two.
func TestParseRejectsNonMinimalEnvelope(t *testing.T) {
	v := loadVectors(t, "real")[0]
	rd, err := parseRaw(v.data, kindEnclave)
	if err != nil {
		t.Fatal(err)
	}
	n := len(rd.payload)
	payload4 := append([]byte{0x5a, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, rd.payload...)
	payload2 := append([]byte{0x59, byte(n >> 8), byte(n)}, rd.payload...)
	sig := append([]byte{0x58, 0x60}, rd.signature...)
	build := func(array []byte, protected []byte, payload, signature []byte) []byte {
		out := append(append([]byte(nil), array...), protected...)
		out = append(append(out, 0xa0), payload...)
		return append(out, signature...)
	}
	canonical := build([]byte{0x84}, []byte{0x44, 0xa1, 0x01, 0x38, 0x22}, payload2, sig)
	if n < 256 || n > 0xffff {
		t.Fatalf("payload of %d bytes: the test expects a 2-byte length", n)
	}
	if _, err := parseRaw(canonical, kindEnclave); err != nil {
		t.Fatalf("the document rebuilt in shortest form: %v", err)
	}
	for name, doc := range map[string][]byte{
		"array head 98 04":          build([]byte{0x98, 0x04}, []byte{0x44, 0xa1, 0x01, 0x38, 0x22}, payload2, sig),
		"protected header 58 04":    build([]byte{0x84}, []byte{0x58, 0x04, 0xa1, 0x01, 0x38, 0x22}, payload2, sig),
		"payload length 5a":         build([]byte{0x84}, []byte{0x44, 0xa1, 0x01, 0x38, 0x22}, payload4, sig),
		"signature length 59 00 60": build([]byte{0x84}, []byte{0x44, 0xa1, 0x01, 0x38, 0x22}, payload2, append([]byte{0x59, 0x00, 0x60}, rd.signature...)),
		"tagged, signature 5b":      append([]byte{0xd2}, build([]byte{0x84}, []byte{0x44, 0xa1, 0x01, 0x38, 0x22}, payload2, append([]byte{0x5b, 0, 0, 0, 0, 0, 0, 0, 0x60}, rd.signature...))...),
	} {
		_, err := parseRaw(doc, kindEnclave)
		var me *MalformedError
		if !errors.As(err, &me) || me.Field != "COSE_Sign1" || !strings.Contains(me.Reason, "not in CBOR's shortest form") {
			t.Errorf("%s: %v, want a MalformedError for COSE_Sign1 (shortest form)", name, err)
		}
	}
}
