// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestLocalKMSEndpointUpstreamMessageBounded: the key service's error
// answer (the parent's to write, any status) is relayed to the application
// as its code and message, and a 5xx is logged. The message is cut to
// maxRelayedMessage bytes, saying so, with control characters replaced:
// a parent could otherwise put 1 MiB, newlines and terminal escapes into
// the application's error and the agent's log at every request.
func TestLocalKMSEndpointUpstreamMessageBounded(t *testing.T) {
	p := &fuzzParent{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, ln, p)
	var logBuf bytes.Buffer
	c, err := New(&Config{NSM: newEmulator(t), Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true, Proxy: "tcp://" + ln.Addr().String(),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h, err := NewKMSEndpoint(&KMSEndpointConfig{Client: c, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hostile := "line one\nERROR forged log line\x1b[2J\x1b[31m\u2028" + strings.Repeat("M", 1<<20-200)
	answer, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.kms#KMSInternalException", "message": hostile})
	p.status.Store(500)
	p.body.Store(answer)
	for _, op := range []struct{ op, body string }{
		{"GenerateDataKey", `{"KeyId":"k","KeySpec":"AES_256"}`},
		{"DescribeKey", `{"KeyId":"k"}`},
	} {
		logBuf.Reset()
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(op.body))
		req.Header.Set("X-Amz-Target", "TrentService."+op.op)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var out struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 500 || out.Type != "KMSInternalException" {
			t.Fatalf("%s: %d %.200q: %v", op.op, w.Code, w.Body.Bytes(), err)
		}
		if len(out.Message) > maxRelayedMessage+64 || !strings.Contains(out.Message, "bytes, cut") || !strings.HasPrefix(out.Message, "line one") {
			t.Errorf("%s: message of %d bytes, want the start of the key service's, at most %d and marked cut: %.200q", op.op, len(out.Message), maxRelayedMessage, out.Message)
		}
		if i := strings.IndexFunc(out.Message, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' }); i >= 0 {
			t.Errorf("%s: message has control character %q: %.200q", op.op, out.Message[i], out.Message)
		}
		if logBuf.Len() > 4<<10 {
			t.Errorf("%s: log of %d bytes for one request", op.op, logBuf.Len())
		}
	}

	// A short, plain message is relayed as it is.
	answer, _ = json.Marshal(map[string]string{"__type": "NotFoundException", "message": "Key 'arn:aws:kms:us-east-1:111122223333:key/x' does not exist"})
	p.status.Store(400)
	p.body.Store(answer)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"KeyId":"k"}`))
	req.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if !strings.Contains(w.Body.String(), `"message":"Key 'arn:aws:kms:us-east-1:111122223333:key/x' does not exist"`) || w.Code != 400 {
		t.Errorf("plain message: %d %s", w.Code, w.Body.String())
	}
}

func TestRelayedMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"Key 'alias/app' does not exist", "Key 'alias/app' does not exist"},
		{"a\nb\tc\x1b[0m\u202eevil\u2029\xff", "a?b?c?[0m?evil??"},
		{"é and 日本", "é and 日本"},
		{strings.Repeat("a", maxRelayedMessage), strings.Repeat("a", maxRelayedMessage)},
		{strings.Repeat("a", maxRelayedMessage-1) + "é", strings.Repeat("a", maxRelayedMessage-1) + "... (1025 bytes, cut)"},
	} {
		if got := relayedMessage(tc.in); got != tc.want {
			t.Errorf("relayedMessage(%.40q) = %.80q, want %.80q", tc.in, got, tc.want)
		}
	}
}

// FuzzRelayedMessage: whatever the key service's message, the relayed one
// is valid UTF-8 without control, line-separator or bidi-override
// characters, at most maxRelayedMessage bytes plus the cut marker, and a
// message that needs nothing is relayed unchanged.
func FuzzRelayedMessage(f *testing.F) {
	for _, s := range []string{"", "Key 'alias/app' does not exist", "a\nb\x1b[31m\u202e\xff", strings.Repeat("é", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := relayedMessage(s)
		if !utf8.ValidString(got) || len(got) > maxRelayedMessage+40 {
			t.Fatalf("relayedMessage(%q) = %q", s, got)
		}
		if i := strings.IndexFunc(got, func(r rune) bool {
			return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
		}); i >= 0 {
			t.Fatalf("relayedMessage(%q) = %q has %q", s, got, got[i])
		}
		plain := len(s) <= maxRelayedMessage && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
			return r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
		})
		if plain && got != s {
			t.Fatalf("relayedMessage(%q) = %q, want it unchanged", s, got)
		}
	})
}
