// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/valyala/fasthttp"
)

// randomAnswer returns the base64 Plaintext member of a GenerateRandom
// answer, as it is written in the JSON.
func randomAnswer(t *testing.T, body []byte) []byte {
	t.Helper()
	var out struct{ Plaintext []byte }
	if err := json.Unmarshal(body, &out); err != nil || len(out.Plaintext) != 32 {
		t.Fatalf("GenerateRandom answer %q: %v", body, err)
	}
	b, _ := json.Marshal(out.Plaintext)
	return bytes.Trim(b, `"`)
}

// TestKMSServerWipesAnswer: the answer carrying a plaintext is cleared once
// the server has written it, not left in memory fasthttp pools. SetBody
// copied it into the response's pooled body buffer, which a reset only
// truncates: the base64 plaintext stayed in the agent's heap until a later
// answer happened to overwrite it. The handler of a second request on the
// connection (run after the first answer was written and its request
// reset) reads the memory the first answer was sent from.
func TestKMSServerWipesAnswer(t *testing.T) {
	_, c := newFakeClient(t, newEmulator(t), "sealed")
	e, err := NewKMSEndpoint(&KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var first []byte // the memory the first answer was sent from
	left := make(chan []byte, 1)
	h := func(rc *fasthttp.RequestCtx) {
		if first == nil {
			e.serveFast(rc)
			first = rc.Response.Body()
			return
		}
		left <- bytes.Clone(first)
		e.serveFast(rc)
	}
	conn := dialRaw(t, startKMS(t, h, e.max, e.conns, kmsServerDefaults, e.log))
	conn.send(kmsRequest("GenerateRandom", randomBody))
	status, code, body, _ := conn.answer()
	if status != 200 {
		t.Fatalf("GenerateRandom: %d %s %s", status, code, body)
	}
	pt := randomAnswer(t, body)
	conn.send(kmsRequest("NoSuchOperation", "{}"))
	if status, code, _, _ := conn.answer(); code != "UnknownOperationException" {
		t.Fatalf("second request: %d %s, want UnknownOperationException", status, code)
	}
	got := <-left
	if bytes.Contains(got, pt) {
		t.Fatalf("the first answer's memory still holds its plaintext after it was written: %q", got)
	}
	if i := bytes.IndexFunc(got, func(r rune) bool { return r != 0 }); i >= 0 {
		t.Fatalf("the first answer's memory is not cleared (byte %d): %q", i, got)
	}
}

// TestKMSServerAnswerBypassesWriteBuffer: an answer goes from the
// endpoint's buffer to the connection without a copy in the server's
// pooled write buffer, whose memory nobody clears: with fasthttp's default
// 4 KiB buffer, a whole answer (its base64 plaintext included) was copied
// there, header first, and stayed until the buffer's next use.
func TestKMSServerAnswerBypassesWriteBuffer(t *testing.T) {
	_, c := newFakeClient(t, newEmulator(t), "sealed")
	e, err := NewKMSEndpoint(&KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var rc fasthttp.RequestCtx
	rc.Request.Header.SetMethod("POST")
	rc.Request.SetRequestURI("/")
	rc.Request.Header.Set("X-Amz-Target", "TrentService.GenerateRandom")
	rc.Request.SetBodyString(randomBody)
	e.serveFast(&rc)
	if rc.Response.StatusCode() != 200 {
		t.Fatalf("GenerateRandom: %d %s", rc.Response.StatusCode(), rc.Response.Body())
	}
	pt := randomAnswer(t, rc.Response.Body())
	// What the server does with an answer: Response.Write to its pooled
	// writer of the configured size, then a flush.
	var sink bytes.Buffer
	bw := bufio.NewWriterSize(&sink, kmsServerDefaults.writeBuffer)
	if err := rc.Response.Write(bw); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sink.Bytes(), pt) {
		t.Fatalf("the answer written lacks its plaintext: %q", sink.Bytes())
	}
	if buf := bw.AvailableBuffer()[:bw.Available()]; bytes.Contains(buf, pt) {
		t.Fatalf("the write buffer (%d bytes) holds the answer's plaintext after the write", len(buf))
	}
}
