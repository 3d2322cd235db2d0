// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// An attacker-chosen header name (any Sec-Fetch-* name, up to the
// server's header limit) is logged bounded and quoted by the credentials
// route: a name of journald's LineMax would be cut by journald, and the
// text after the cut would read as an entry of host-proxy's own.
func TestCredentialsRefusalLogBounded(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		buf := &syncBuffer{}
		var h slog.Handler = slog.NewTextHandler(buf, nil)
		if format == "json" {
			h = slog.NewJSONHandler(buf, nil)
		}
		m, err := newMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		c, err := newCredCache(&CredentialsConfig{Source: "env"}, time.Now,
			[]string{"AWS_ACCESS_KEY_ID=AKIDROLE", "AWS_SECRET_ACCESS_KEY=role-secret"}, slog.New(h), m)
		if err != nil {
			t.Fatal(err)
		}
		name := "Sec-Fetch-" + strings.Repeat("A", journaldLineMax) + "\nlevel=ERROR msg=forged"
		req := httptest.NewRequest(http.MethodGet, "http://localhost/credentials", nil)
		req.Header[CredentialsHeader] = []string{"1"}
		req.Header[name] = []string{"x"}
		rec := httptest.NewRecorder()
		c.handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("%s: HTTP %d, want 403", format, rec.Code)
		}
		out := buf.String()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 1 || len(out) > 1024 {
			t.Fatalf("%s: the refusal is logged in %d lines, %d bytes: %.300q", format, len(lines), len(out), out)
		}
		if !strings.Contains(out, "Sec-Fetch-AAAA") || strings.Contains(out, "forged") {
			t.Fatalf("%s: the header name is not logged bounded: %.300q", format, out)
		}
		if body := rec.Body.String(); len(body) > 1024 || strings.Contains(body, "forged") {
			t.Fatalf("the refusal answer carries the whole name: %d bytes", len(body))
		}
	}
}

func TestQuoteBounded(t *testing.T) {
	for in, want := range map[string]string{
		"Sec-Fetch":                `"Sec-Fetch"`,
		"":                         `""`,
		strings.Repeat("a", 10):    `"aaaaaaaaaa"`,
		strings.Repeat("a", 11):    `"aaaaaaaaaa"… (11 bytes)`,
		strings.Repeat("\x01", 11): `"\x01"… (11 bytes)`, // 10 escaped bytes at most: one \u0001 (JSON) is 6
		"ab\xffcd":                 "\"ab\ufffdcd\"",     // invalid UTF-8 as U+FFFD, written as such
	} {
		if got := quoteBounded(in, 10); got != want {
			t.Errorf("quoteBounded(%q, 10) = %s, want %s", in, got, want)
		}
	}
}

func FuzzQuoteBounded(f *testing.F) {
	f.Add("Sec-Fetch-Site", 64)
	f.Add(strings.Repeat("<\u2028\U000e0001\"\\\x7fé\xff", 30), 64)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit = 10 + int(uint(limit)%200)
		q := quoteBounded(s, limit)
		j, _ := json.Marshal(q)
		// The quoted head, then "… (N bytes)" with N at most 20 digits.
		if bound := limit + 2 + len("… ( bytes)") + 20; len(q) > bound || len(j) > 2*bound {
			t.Fatalf("quoteBounded(%q, %d) is %d bytes (JSON %d)", s, limit, len(q), len(j))
		}
		head := q
		if i := strings.LastIndex(q, `"… (`); i >= 0 && strings.HasSuffix(q, " bytes)") {
			head = q[:i+1]
		}
		if _, err := strconv.Unquote(head); err != nil {
			t.Fatalf("the head %s does not unquote: %v", head, err)
		}
	})
}
