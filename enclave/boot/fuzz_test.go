// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"bytes"
	"log/slog"
	"slices"
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

// TestLineWriterSplitsRuneAcrossWrites: a write that ends exactly MaxLine
// bytes into a line, in the middle of a multi-byte character, keeps the
// character whole (the fuzz input 19d3ffc9dc88d31e: 16 bytes of "€€€€€€",
// then the rest). It was queued as five "€" and one lone byte, which Record
// turned into U+FFFD: an 18-byte record over MaxLine 16 and a mangled line.
func TestLineWriterSplitsRuneAcrossWrites(t *testing.T) {
	fw, err := NewLogForwarder(&LogForwarderConfig{Addr: "tcp://127.0.0.1:1", Queue: 16, MaxLine: 16, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	w := fw.Writer("stdout")
	in := []byte(strings.Repeat("€", 6) + "\n")
	_, _ = w.Write(in[:16])
	_, _ = w.Write(in[16:])
	var lines []string
	for len(fw.queue) > 0 {
		lines = append(lines, (<-fw.queue).Line)
	}
	if want := []string{strings.Repeat("€", 5), "€"}; !slices.Equal(lines, want) {
		t.Fatalf("records %q, want %q", lines, want)
	}
	if s := fw.Stats().Split; s != 1 {
		t.Fatalf("Split %d, want 1", s)
	}
}

// TestLineWriterLineOfMaxLine: a line of exactly MaxLine bytes whose
// newline comes in a later write is one record, not split, and not
// followed by an empty one.
func TestLineWriterLineOfMaxLine(t *testing.T) {
	fw, err := NewLogForwarder(&LogForwarderConfig{Addr: "tcp://127.0.0.1:1", Queue: 16, MaxLine: 16, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	w := fw.Writer("stdout")
	_, _ = w.Write([]byte(strings.Repeat("x", 16)))
	_, _ = w.Write([]byte("\n"))
	var lines []string
	for len(fw.queue) > 0 {
		lines = append(lines, (<-fw.queue).Line)
	}
	if want := []string{strings.Repeat("x", 16)}; !slices.Equal(lines, want) {
		t.Fatalf("records %q, want %q", lines, want)
	}
	if s := fw.Stats().Split; s != 0 {
		t.Fatalf("Split %d, want 0", s)
	}
}
