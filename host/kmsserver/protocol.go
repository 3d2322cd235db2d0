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
			return apiErr(CodeSerialization, "member %s has the wrong type (want %s)", te.Field, te.Type)
		}
		return apiErr(CodeSerialization, "malformed JSON request body: %v", err)
	}
	return nil
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

// writeJSON writes v as the response, encoded into a pooled buffer (the
// same bytes as json.Marshal, without its copy of them); the buffer is
// cleared before it goes back, as responses carry plaintext.
func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	buf, _ := s.outBufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			b := buf.Bytes()
			clear(b[:cap(b)])
			s.outBufs.Put(buf)
		}
	}()
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		writeError(w, internalErr())
		return
	}
	w.Header()[hdrContentType] = []string{contentTypeJSON11}
	w.WriteHeader(http.StatusOK)
	w.Write(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})) // Encode ends the value with a newline
}

func writeError(w http.ResponseWriter, err error) string {
	var ae *APIError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, keystore.ErrUnavailable):
		ae = apiErr(CodeDependencyTimeout, "The key store is unavailable; retry the request.")
	case errors.Is(err, context.DeadlineExceeded):
		// The request's deadline (Config.RequestTimeout, the only one on
		// its context) passed in a store call.
		ae = apiErr(CodeDependencyTimeout, "The key store did not answer in time; retry the request.")
	default:
		ae = internalErr()
	}
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
