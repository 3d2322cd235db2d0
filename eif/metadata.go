// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/enclavekit/enclavekit/internal/quote"
)

// Metadata is the metadata section: nitro-cli's EifIdentityInfo, JSON.
// No PCR covers it and the signature does not sign it: it is whatever the
// builder (or anyone who rewrote the file and its CRC) put there.
type Metadata struct {
	ImageName      string          `json:"ImageName"`
	ImageVersion   string          `json:"ImageVersion"`
	BuildMetadata  BuildMetadata   `json:"BuildMetadata"`
	DockerInfo     json.RawMessage `json:"DockerInfo"`
	CustomMetadata json.RawMessage `json:"CustomMetadata"`
}

// BuildMetadata is nitro-cli's EifBuildInfo.
type BuildMetadata struct {
	BuildTime        string `json:"BuildTime"`
	BuildTool        string `json:"BuildTool"`
	BuildToolVersion string `json:"BuildToolVersion"`
	OperatingSystem  string `json:"OperatingSystem"`
	KernelVersion    string `json:"KernelVersion"`
}

// encode returns the section bytes: compact JSON in field order, without
// HTML escaping, as serde_json::to_vec writes it. Absent DockerInfo and
// CustomMetadata are written as null.
func (m *Metadata) encode() ([]byte, error) {
	c := *m
	for _, f := range []*json.RawMessage{&c.DockerInfo, &c.CustomMetadata} {
		v, err := canonicalJSON(*f)
		if err != nil {
			return nil, err
		}
		*f = v
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// parseMetadata decodes the section strictly: one JSON object with exactly
// the five keys nitro-cli writes (BuildMetadata with exactly its five).
func parseMetadata(b []byte) (*Metadata, error) {
	// The keys are checked first, at both levels, so that the decoder
	// never meets an unknown one: its error would repeat the key whole.
	if err := exactKeys(b, "ImageName", "ImageVersion", "BuildMetadata", "DockerInfo", "CustomMetadata"); err != nil {
		return nil, &MetadataError{Err: err}
	}
	if err := exactKeys(buildMetadataRaw(b), "BuildTime", "BuildTool", "BuildToolVersion", "OperatingSystem", "KernelVersion"); err != nil {
		return nil, &MetadataError{Err: fmt.Errorf("BuildMetadata: %w", err)}
	}
	var m Metadata
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, &MetadataError{Err: err}
	}
	return &m, nil
}

// buildMetadataRaw returns the raw BuildMetadata member of the JSON object
// b (nil if absent).
func buildMetadataRaw(b []byte) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil {
		return nil
	}
	return top["BuildMetadata"]
}

// exactKeys checks that b is a single JSON object with exactly keys, each
// once.
func exactKeys(b []byte, keys ...string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("want a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		k := t.(string)
		if seen[k] {
			return fmt.Errorf("duplicate key %s", quoteKeys([]string{k}))
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return fmt.Errorf("trailing data after the JSON object")
	}
	var missing []string
	for _, k := range keys {
		if !seen[k] {
			missing = append(missing, k)
		}
		delete(seen, k)
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing keys %s", strings.Join(missing, ", "))
	}
	if len(seen) > 0 {
		var extra []string
		for k := range seen {
			extra = append(extra, k)
		}
		sort.Strings(extra)
		return fmt.Errorf("unknown keys %s", quoteKeys(extra))
	}
	return nil
}

// maxShownKeys and maxShownKeyLen bound what an error repeats of the keys
// of a metadata section, which the image's builder chose.
const (
	maxShownKeys   = 8
	maxShownKeyLen = 64
)

// quoteKeys lists keys for an error message with [quote.List]: each
// quoted, at most maxShownKeys of them and maxShownKeyLen bytes of each.
func quoteKeys(keys []string) string { return quote.List(keys, maxShownKeys, maxShownKeyLen) }

// canonicalJSON re-encodes a JSON value as serde_json::Value does: object
// keys sorted, compact, no HTML escaping, numbers kept as written. Empty
// input is null.
func canonicalJSON(raw []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after a JSON value")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(serdeNumbers(v)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// serdeNumbers rewrites numbers as serde_json::Value prints them: integers
// as written, other numbers as f64 in shortest form with ".0" added to
// whole values ("1.50" becomes 1.5, "2.0" stays 2.0) and exponents
// without "+" (1e21). Extreme exponents may still differ from Rust's ryu.
func serdeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = serdeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = serdeNumbers(e)
		}
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return x
		}
		if _, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return x
		}
		f, err := x.Float64()
		if err != nil {
			return x
		}
		if a := math.Abs(f); a != 0 && (a < 1e-5 || a >= 1e16) {
			s := strconv.FormatFloat(f, 'e', -1, 64)
			s = strings.Replace(strings.Replace(s, "e+", "e", 1), "e-0", "e-", 1)
			return json.Number(strings.Replace(s, "e0", "e", 1))
		}
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return json.Number(s)
	}
	return v
}
