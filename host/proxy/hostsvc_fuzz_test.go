// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// FuzzLogsRoute feeds arbitrary bytes to the logs route's reader, as a
// compromised enclave could: it never panics, returns when the connection
// ends, and writes no log line journald would cut (journaldLineMax), in
// either log format.
func FuzzLogsRoute(f *testing.F) {
	f.Add([]byte(`{"t":1,"stream":"stdout","line":"hello"}` + "\n" + `{"t":2,"stream":"exit","line":"{\"code\":3}","dropped":5}` + "\n"))
	f.Add([]byte(`{"stream":"exit","line":"not json"}` + "\n{\n\x00\xff"))
	long, _ := json.Marshal(map[string]any{"t": 1, "stream": "stderr", "line": strings.Repeat("\x1b[2J", 3<<10)})
	f.Add(append(long, '\n'))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, format := range []string{"text", "json"} {
			p, buf := logsProxy(t, format)
			feedLogs(p, in)
			for _, l := range strings.Split(buf.String(), "\n") {
				if len(l) >= journaldLineMax {
					t.Fatalf("%s: a log line of %d bytes", format, len(l))
				}
			}
		}
	})
}

// FuzzSplitLogLine: the parts of any line join back to it, and each is
// written by slog's text handler (strconv.Quote) and JSON handler (at most
// encoding/json's escaping, HTML characters included) in maxLogPart bytes
// plus its quotes.
func FuzzSplitLogLine(f *testing.F) {
	f.Add("hello from the enclave")
	f.Add(strings.Repeat("\x01", 16<<10))
	f.Add(strings.Repeat("<\u2028\U000e0001\"\\\x7fé", 3000))
	f.Fuzz(func(t *testing.T, line string) {
		line = strings.ToValidUTF8(line, "\uFFFD") // as json.Unmarshal leaves it
		parts := splitLogLine(line)
		if strings.Join(parts, "") != line {
			t.Fatalf("parts do not join to the line")
		}
		for _, p := range parts {
			j, _ := json.Marshal(p)
			if q := strconv.Quote(p); len(q) > maxLogPart+2 || len(j) > maxLogPart+2 {
				t.Fatalf("a part is written in %d (text) or %d (JSON) bytes, over %d", len(q), len(j), maxLogPart+2)
			}
		}
	})
}
