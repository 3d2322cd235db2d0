// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/attestationtest"
	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// kindSeeds are real AWS documents of both kinds, and emulated ones.
func kindSeeds(tb testing.TB) map[string][]byte {
	tb.Helper()
	seeds := map[string][]byte{}
	for _, dir := range []string{"real", "nitrotpm"} {
		files, err := filepath.Glob(filepath.Join(awsvectors.Path(tb, "attestation", dir), "*.cbor"))
		if err != nil || len(files) == 0 {
			tb.Fatalf("no vectors in %s: %v", dir, err)
		}
		for _, f := range files {
			seeds[dir+"/"+filepath.Base(f)] = awsvectors.ReadFile(tb, "attestation", dir, filepath.Base(f))
		}
	}
	fix := attestationtest.New(tb, time.Now())
	seeds["emulated enclave"] = fix.Document(tb)
	seeds["emulated nitrotpm"] = fix.NitroTPMDocument(tb)
	return seeds
}

// TestRecipientKind: each document goes to the verifier of its own kind,
// as the strict parsers classify it.
func TestRecipientKind(t *testing.T) {
	for name, doc := range kindSeeds(t) {
		_, encErr := attestation.Parse(doc)
		_, tpmErr := attestation.ParseNitroTPM(doc)
		want := kindEnclave
		if tpmErr == nil {
			want = kindNitroTPM
		}
		if encErr == nil == (tpmErr == nil) {
			t.Fatalf("%s: Parse %v, ParseNitroTPM %v: want exactly one to accept", name, encErr, tpmErr)
		}
		if got := recipientKind(doc); got != want {
			t.Errorf("%s: recipientKind %d, want %d", name, got, want)
		}
		if tagged := append([]byte{0xd2}, doc...); doc[0] != 0xd2 && recipientKind(tagged) != want {
			t.Errorf("%s: the tagged form goes elsewhere", name)
		}
	}
	for _, in := range [][]byte{nil, {}, {0xd2}, {0x84}, []byte("not a document"), make([]byte, attestation.MaxDocumentSize+1)} {
		if recipientKind(in) != kindEnclave {
			t.Errorf("recipientKind(%x) is not the enclave verifier", in)
		}
	}
}

// FuzzRecipientKind: the routing never panics, and never sends a document
// that one strict parser accepts to the other kind's verifier (which would
// refuse what the right one accepts; it could never accept it: each
// refuses the other's PCRs key).
func FuzzRecipientKind(f *testing.F) {
	for _, doc := range kindSeeds(f) {
		f.Add(doc)
	}
	for _, payload := range kindPayloads(f) {
		f.Add(payload)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		k := recipientKind(doc)
		if want := recipientKindRaw(doc); k != want {
			t.Fatalf("recipientKind %d, with cbor.RawMessage fields %d", k, want)
		}
		if _, err := attestation.Parse(doc); err == nil && k != kindEnclave {
			t.Fatal("an enclave document routed to the NitroTPM verifier")
		}
		if _, err := attestation.ParseNitroTPM(doc); err == nil && k != kindNitroTPM {
			t.Fatal("a NitroTPM document routed to the enclave verifier")
		}
	})
}

// recipientKindRaw is recipientKind as first written, with cbor.RawMessage
// for the fields it does not read: the reference for cborSkip and
// cborPresent, which take the same items without copying them.
func recipientKindRaw(doc []byte) docKind {
	if len(doc) == 0 || len(doc) > attestation.MaxDocumentSize {
		return kindEnclave
	}
	if doc[0] == 0xd2 {
		doc = doc[1:]
	}
	var msg struct {
		_           struct{} `cbor:",toarray"`
		Protected   cbor.RawMessage
		Unprotected cbor.RawMessage
		Payload     []byte
		Signature   cbor.RawMessage
	}
	if err := kindDecMode.Unmarshal(doc, &msg); err != nil {
		return kindEnclave
	}
	var payload struct {
		PCRs     cbor.RawMessage `cbor:"pcrs"`
		NitroTPM cbor.RawMessage `cbor:"nitrotpm_pcrs"`
	}
	if err := kindDecMode.Unmarshal(msg.Payload, &payload); err != nil {
		return kindEnclave
	}
	if payload.NitroTPM != nil && payload.PCRs == nil {
		return kindNitroTPM
	}
	return kindEnclave
}

// kindPayloads are COSE_Sign1 shapes around payloads whose PCR keys are
// null, empty, duplicated or of another type, and malformed items in the
// fields recipientKind does not read.
func kindPayloads(tb testing.TB) map[string][]byte {
	tb.Helper()
	sign1 := func(protected, payload any) []byte {
		p, err := cbor.Marshal(payload)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := cbor.Marshal([]any{protected, map[any]any{}, p, []byte{1, 2}})
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	const tpmKey = "\x6dnitrotpm_pcrs" // the text string, head included
	// raw is a COSE_Sign1 array around the payload item given as bytes
	// and strings.
	raw := func(payload ...any) []byte {
		b := []byte{0x84, 0x41, 0xa0, 0xa0}
		for _, p := range payload {
			switch p := p.(type) {
			case int:
				b = append(b, byte(p))
			case string:
				b = append(b, p...)
			}
		}
		return append(b, 0x42, 1, 2)
	}
	return map[string][]byte{
		"nitrotpm null":          sign1([]byte{0xa0}, map[string]any{"nitrotpm_pcrs": nil}),
		"nitrotpm, pcrs null":    sign1([]byte{0xa0}, map[string]any{"nitrotpm_pcrs": map[int][]byte{0: {1}}, "pcrs": nil}),
		"nitrotpm empty":         sign1([]byte{0xa0}, map[string]any{"nitrotpm_pcrs": map[int][]byte{}}),
		"nitrotpm a string":      sign1([]byte{0xa0}, map[string]any{"nitrotpm_pcrs": "x"}),
		"pcrs only":              sign1([]byte{0xa0}, map[string]any{"pcrs": map[int][]byte{0: {1}}}),
		"neither":                sign1([]byte{0xa0}, map[string]any{"module_id": "m"}),
		"protected not bytes":    sign1(7, map[string]any{"nitrotpm_pcrs": map[int][]byte{}}),
		"payload not a map":      sign1([]byte{0xa0}, []int{1}),
		"nitrotpm, payload tail": append(sign1([]byte{0xa0}, map[string]any{"nitrotpm_pcrs": nil}), 0x00),
		"truncated signature":    sign1([]byte{0xa0}, map[string]any{"nitrotpm_pcrs": nil})[:20],
		// The payload's own head: indefinite length (two chunks), the
		// one- and two-byte forms of a short payload, null, a text
		// string, the map itself instead of a byte string.
		"nitrotpm, indefinite payload": raw(0x5f, 0x41, 0xa1, 0x4f, tpmKey, 0xf6, 0xff),
		"nitrotpm, short payload":      raw(0x50, 0xa1, tpmKey, 0xf6),
		"nitrotpm, 25-byte payload":    raw(0x58, 25, 0xa2, tpmKey, 0xf6, 0x67, "other_k", 0x40),
		"payload null":                 raw(0xf6),
		"payload a text string":        raw(0x70, 0xa1, tpmKey, 0xf6),
		"payload a map":                raw(0xa1, tpmKey, 0xf6),
	}
}

// TestRecipientKindFields: recipientKind decides as recipientKindRaw does
// on the shapes of kindPayloads, and each of them sends a present
// nitrotpm_pcrs (even null) without pcrs to the NitroTPM verifier.
func TestRecipientKindFields(t *testing.T) {
	// The routing reads only the payload's keys: a protected header of the
	// wrong type is the NitroTPM verifier's to refuse.
	want := map[string]docKind{"nitrotpm null": kindNitroTPM, "nitrotpm empty": kindNitroTPM, "nitrotpm a string": kindNitroTPM,
		"protected not bytes": kindNitroTPM, "nitrotpm, indefinite payload": kindNitroTPM, "nitrotpm, short payload": kindNitroTPM,
		"nitrotpm, 25-byte payload": kindNitroTPM}
	for name, doc := range kindPayloads(t) {
		got := recipientKind(doc)
		if ref := recipientKindRaw(doc); got != ref {
			t.Errorf("%s: recipientKind %d, with cbor.RawMessage fields %d", name, got, ref)
		}
		if got != want[name] {
			t.Errorf("%s: recipientKind %d, want %d", name, got, want[name])
		}
	}
}

// BenchmarkRecipientKind is the routing every Recipient request pays before
// verification (compare BenchmarkFloorGenerateDataKeyRecipient).
func BenchmarkRecipientKind(b *testing.B) {
	doc := attestationtest.New(b, time.Now()).Document(b)
	for b.Loop() {
		if recipientKind(doc) != kindEnclave {
			b.Fatal("wrong kind")
		}
	}
}
