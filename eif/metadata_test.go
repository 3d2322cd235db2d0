// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestMetadataErrorHostileKeys: the metadata section is the image
// builder's to write, and tools (nitro-verify, eif describe) print Read's
// errors on a terminal. A key with newlines or ANSI escapes, or of 1 MiB,
// at the top or in BuildMetadata, gives a MetadataError (ErrMalformed)
// whose message is quoted and bounded.
func TestMetadataErrorHostileKeys(t *testing.T) {
	const build = `{"BuildTime":"t","BuildTool":"b","BuildToolVersion":"v","OperatingSystem":"o","KernelVersion":"k"`
	const top = `"ImageName":"n","ImageVersion":"1","DockerInfo":null,"CustomMetadata":null`
	ansi := `\u001b[2J\u001b[31mPCR0 OK\n`
	big := strings.Repeat("K", MaxMetadataSize-1024)
	many := ""
	for i := range 2000 {
		many += `,"` + strconv.Itoa(i) + strings.Repeat("x", 200) + `":1`
	}
	for name, js := range map[string]string{
		"ANSI key at the top":         `{` + top + `,"BuildMetadata":` + build + `},"` + ansi + `":1}`,
		"ANSI key in BuildMetadata":   `{` + top + `,"BuildMetadata":` + build + `,"` + ansi + `":1}}`,
		"ANSI case twin in BuildMeta": `{` + top + `,"BuildMetadata":{"buildtime\n\u001b[31m":"t","BuildTool":"b","BuildToolVersion":"v","OperatingSystem":"o","KernelVersion":"k"}}`,
		"1 MiB key at the top":        `{` + top + `,"BuildMetadata":` + build + `},"` + big + `":1}`,
		"1 MiB key in BuildMetadata":  `{` + top + `,"BuildMetadata":` + build + `,"` + big + `":1}}`,
		"1 MiB duplicate key":         `{` + top + `,"BuildMetadata":` + build + `},"` + big[:len(big)/2-64] + `":1,"` + big[:len(big)/2-64] + `":1}`,
		"many unknown keys":           `{` + top + `,"BuildMetadata":` + build + `}` + many + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			if len(js) > MaxMetadataSize {
				t.Fatalf("test input of %d bytes is over MaxMetadataSize", len(js))
			}
			m, err := parseMetadata([]byte(js))
			var me *MetadataError
			if m != nil || !errors.As(err, &me) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("parseMetadata: %v, %v; want a MetadataError", m, err)
			}
			msg := err.Error()
			if i := strings.IndexFunc(msg, unicode.IsControl); i >= 0 {
				t.Errorf("message has control character %q at %d: %.300q", msg[i], i, msg)
			}
			if len(msg) > 2048 {
				t.Errorf("message is %d bytes, want at most 2048: %.300q", len(msg), msg)
			}
		})
	}
}
