// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"errors"
	"os"
	"reflect"
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

// FuzzParseMetadata feeds the metadata section's parser arbitrary JSON,
// seeded from the golden images' sections: it never panics, every error is
// a MetadataError matching ErrMalformed whose message has no control
// character and is bounded, and an accepted section encodes to one that
// parses to the same Metadata.
func FuzzParseMetadata(f *testing.F) {
	for _, g := range []string{"testdata/golden/signed.eif", "testdata/golden/unsigned.eif"} {
		b, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		img, err := Read(bytes.NewReader(b))
		if err != nil {
			f.Fatal(err)
		}
		if img.MetadataJSON != nil {
			f.Add(img.MetadataJSON)
		}
	}
	f.Add([]byte(`{"ImageName":"n","ImageVersion":"1","BuildMetadata":{"BuildTime":"t","BuildTool":"b","BuildToolVersion":"v","OperatingSystem":"o","KernelVersion":"k"},"DockerInfo":{"a":[1,2.50]},"CustomMetadata":null,"x\u001b":1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := parseMetadata(in)
		if err != nil {
			var me *MetadataError
			if m != nil || !errors.As(err, &me) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("parseMetadata: %v, %v", m, err)
			}
			msg := err.Error()
			if strings.ContainsFunc(msg, unicode.IsControl) || len(msg) > 4096 {
				t.Fatalf("message of %d bytes: %.300q", len(msg), msg)
			}
			return
		}
		enc, err := m.encode()
		if err != nil {
			return // numbers serde would print differently: Write refuses them too
		}
		m2, err := parseMetadata(enc)
		if err != nil || !reflect.DeepEqual(m2.BuildMetadata, m.BuildMetadata) || m2.ImageName != m.ImageName || m2.ImageVersion != m.ImageVersion {
			t.Fatalf("encoded %q does not parse the same: %v", enc, err)
		}
	})
}
