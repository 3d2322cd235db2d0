// SPDX-License-Identifier: Apache-2.0

package kmsserver

// The KMS JSON 1.1 wire format: request bodies, responses and errors.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"

	gojson "github.com/goccy/go-json"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/internal/readbody"
)

// decode parses a JSON request body strictly enough: one object, no
// trailing data. Unknown members are ignored (newer SDKs send new ones).
//
// It decodes with goccy/go-json, which accepts what encoding/json accepts
// (member names matched case-insensitively, the last of duplicate members
// wins, base64 for []byte) at a fraction of its cost on the 7 KB
// base64 attestation documents of Recipient requests; the differential test
// in protocol_test.go holds it to encoding/json's verdicts.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := gojson.Unmarshal(body, v); err != nil {
		var te *gojson.UnmarshalTypeError
		if errors.As(err, &te) {
			return wrongType(te)
		}
		return apiErr(CodeSerialization, "malformed JSON request body: %v", err)
	}
	return nil
}

// wrongType describes a member of the wrong type in the words of the KMS
// API reference (string, integer, boolean, base64-encoded blob, object,
// array of ...): clients read the message, and Go's type names
// ([]uint8, kmsserver.recipientInfo) mean nothing to them.
func wrongType(te *gojson.UnmarshalTypeError) *APIError {
	field, want := te.Field, jsonType(te.Type)
	got, _, _ := strings.Cut(te.Value, " ") // "number 1.5"
	if got == "bool" {
		got = "boolean"
	}
	if te.Type.Kind() == reflect.Uint8 {
		// An array given for a blob: goccy/go-json reports its first
		// element that is not a byte; report the blob.
		if i := strings.LastIndexByte(field, '.'); i >= 0 {
			field = field[:i]
		}
		want, got = blobType, "array"
	} else if got == "string" && want == blobType {
		// A string that is not standard padded base64.
		return apiErr(CodeSerialization, "member %s is not a valid base64-encoded blob", field)
	}
	if field == "" {
		return apiErr(CodeSerialization, "the request body has the wrong type (want %s, got %s)", want, got)
	}
	return apiErr(CodeSerialization, "member %s has the wrong type (want %s, got %s)", field, want, got)
}

// jsonType names the JSON type a request member of type t takes.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return blobType
		}
		return "array of " + plural(jsonType(t.Elem()))
	case reflect.Map:
		return "object with " + jsonType(t.Elem()) + " values"
	case reflect.Struct:
		return "object"
	default:
		return "value"
	}
}

// blobType is a []byte member's JSON type.
const blobType = "base64-encoded blob"

// plural makes a JSON type name plural for "array of ...".
func plural(s string) string {
	switch {
	case strings.HasPrefix(s, "array of "), strings.HasPrefix(s, "object with "):
		// "array of arrays of strings", "array of objects with string values"
		head, tail, _ := strings.Cut(s, " ")
		return head + "s " + tail
	default:
		return s + "s"
	}
}

// maxBodyReserve bounds what a declared Content-Length reserves before the
// bytes arrive: the body is read before the request is authenticated, and
// a head alone must not hold MaxBodyBytes per connection. 16 KiB holds a
// Recipient request (a 4.5 KB document in base64) in one piece.
const maxBodyReserve = 16 << 10

// readBody reads the whole body into buf (its contents are overwritten;
// nil is fine) with [readbody.Read]: a declared Content-Length (already
// checked against the limit) sizes the buffer, up to maxBodyReserve, and
// each outgrown buffer is cleared (bodies carry plaintext).
func readBody(r io.Reader, contentLength int64, buf []byte) ([]byte, error) {
	return readbody.Read(r, contentLength, maxBodyReserve, buf)
}

// maxPooledBody is the largest request body buffer kept for reuse: a
// Recipient request is about 7 KB; a rare large body is left to the
// garbage collector rather than held in the pool.
const maxPooledBody = 32 << 10

// bodyPool recycles request body buffers (*[]byte). A buffer is cleared
// before it goes back: bodies carry plaintext (Encrypt) and key material
// (ImportKeyMaterial) that must not outlive their request.
type bodyPool struct{ p sync.Pool }

func (bp *bodyPool) get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return *b
	}
	return nil
}

func (bp *bodyPool) put(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBody {
		return
	}
	clear(b[:cap(b)])
	b = b[:0]
	bp.p.Put(&b)
}

// encodeJSON encodes v as the response into a pooled buffer (the same
// bytes as json.Marshal, without its copy of them), which the caller
// returns with putOutBuf; the buffer is cleared before it goes back, as
// responses carry plaintext.
func (s *Server) encodeJSON(v any) (*bytes.Buffer, error) {
	buf, _ := s.outBufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return buf, err
	}
	buf.Truncate(buf.Len() - 1) // Encode ends the value with a newline
	return buf, nil
}

// putOutBuf clears buf and returns it to the pool.
func (s *Server) putOutBuf(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBody {
		buf.Reset()
		b := buf.Bytes()
		clear(b[:cap(b)])
		s.outBufs.Put(buf)
	}
}

// sendJSON sends the encoded response buf.
func (s *Server) sendJSON(w http.ResponseWriter, buf *bytes.Buffer) {
	w.Header()[hdrContentType] = []string{contentTypeJSON11}
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// errorFor returns the API error err is answered with.
func errorFor(err error) *APIError {
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, keystore.ErrUnavailable):
		return apiErr(CodeDependencyTimeout, "The key store is unavailable; retry the request.")
	case errors.Is(err, keystore.ErrTooLarge):
		// A resource quota in effect: the record the request would write
		// is too large for the store (keystore.MaxKeyRecordBytes, or the
		// directory store's alias table), and nothing was written.
		return apiErr(CodeLimitExceeded, "The request would make a key store record too large; nothing was changed (remove grants, tags or aliases first).")
	case errors.Is(err, context.DeadlineExceeded):
		// The request's deadline (Config.RequestTimeout, the only one on
		// its context) passed in a store call.
		return apiErr(CodeDependencyTimeout, "The key store did not answer in time; retry the request.")
	default:
		return internalErr()
	}
}

// writeError answers err (as errorFor maps it) and returns its code.
func writeError(w http.ResponseWriter, err error) string {
	ae := errorFor(err)
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{ae.Code, ae.Message})
	w.Header()[hdrContentType] = []string{contentTypeJSON11}
	w.Header()[hdrErrorType] = []string{ae.Code}
	w.WriteHeader(ae.Status)
	w.Write(b)
	return ae.Code
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
