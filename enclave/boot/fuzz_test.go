// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLineWriter writes arbitrary bytes in two pieces: the queued records,
// joined with newlines, give back the input (valid UTF-8 inputs; pieces of
// at most MaxLine bytes), whatever the split.
func FuzzLineWriter(f *testing.F) {
	f.Add([]byte("one\ntwo\n"), 3)
	f.Add([]byte(strings.Repeat("x", 100)+"\n\n"), 50)
	f.Add([]byte("no newline"), 0)
	f.Add([]byte(strings.Repeat("€", 12)+"\n"+strings.Repeat("é", 20)), 7)
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		if !utf8.Valid(in) || len(in) > 4096 {
			return
		}
		fw, err := NewLogForwarder(&LogForwarderConfig{Addr: "tcp://127.0.0.1:1", Queue: 8192, MaxLine: 16, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		w := fw.Writer("stdout")
		if cut < 0 || cut > len(in) {
			cut = len(in) / 2
		}
		_, _ = w.Write(in[:cut])
		_, _ = w.Write(in[cut:])
		_ = w.Close()
		var lines []string
		for len(fw.queue) > 0 {
			r := <-fw.queue
			if len(r.Line) > 16 {
				t.Fatalf("record of %d bytes, MaxLine 16", len(r.Line))
			}
			lines = append(lines, r.Line)
		}
		// Rebuild: every record ends a line except pieces of a split one,
		// which are exactly MaxLine long; compare without the newlines.
		got := strings.Join(lines, "")
		want := string(bytes.ReplaceAll(in, []byte("\n"), nil))
		if got != want {
			t.Fatalf("records %q from input %q", lines, in)
		}
	})
}
