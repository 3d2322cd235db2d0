// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docYAML returns the fenced ```yaml blocks of a Markdown file.
func docYAML(f *testing.F, path string) [][]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	var cur *bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```yaml":
			cur = new(bytes.Buffer)
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, cur.Bytes())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return out
}

// packageDocYAML returns the indented examples of the package comment in
// kmsconfig.go (the starter, the optional settings, the postgres block).
func packageDocYAML(f *testing.F) [][]byte {
	b, err := os.ReadFile("kmsconfig.go")
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	var cur []byte
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "//\t"); ok {
			cur = append(cur, rest+"\n"...)
			continue
		}
		if cur != nil {
			out = append(out, cur)
			cur = nil
		}
		if strings.HasPrefix(line, "package ") {
			break
		}
	}
	return out
}

// demoConfig returns the kms-server configuration scripts/demo.sh writes
// (its shell variables left unexpanded).
func demoConfig(f *testing.F) []byte {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "scripts", "demo.sh"))
	if err != nil {
		f.Fatal(err)
	}
	_, rest, ok := bytes.Cut(b, []byte("kms-server.yaml\" <<EOF\n"))
	body, _, ok2 := bytes.Cut(rest, []byte("\nEOF\n"))
	if !ok || !ok2 {
		f.Fatal("scripts/demo.sh: the kms-server.yaml here-document moved")
	}
	return body
}

// hostileConfigs are shapes a parser must survive: deep nesting, aliases
// and anchors, huge numbers, wrong types, several documents, tags.
var hostileConfigs = []string{
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	"access_keys: " + strings.Repeat("[", 5000),
	"access_keys:\n  - policy: " + strings.Repeat("{a: ", 100) + "x" + strings.Repeat("}", 100) + "\n",
	"access_keys:\n  - policy: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n",
	"x: &a [a, a, a, a, a, a, a, a, a]\ny: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nz: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\naccess_keys: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
	"k: &k {id: a, secret: s, principal: p, policy: \"{}\"}\naccess_keys: [*k, *k, *k]\n",
	"attestation: &a {roots: [], max_age: 5m}\nlisten: *a\n",
	"access_keys:\n  - &k {id: a, policy: &p {Version: \"2012-10-17\", Statement: *p}}\n",
	"access_keys:\n  - policy: &p [*p]\n",
	"access_keys: &l [*l]\n",
	"a: &a {x: 1, y: 2}\nattestation:\n  <<: *a\n",
	"max_concurrent_key_generations: 99999999999999999999999999999999\n",
	"max_concurrent_key_generations: 9223372036854775807\nkey_usage_flush_interval: 2562047h47m16.854775807s\n",
	"key_usage_flush_interval: 9999999999999999999h\n",
	"attestation: {max_age: -9223372036854775808ns}\n",
	"postgres: {max_conns: 2147483648, operation_timeout: 1e400s}\n",
	"max_concurrent_key_generations: 1e308\n",
	"max_concurrent_key_generations: 0x7fffffffffffffff\n",
	"max_concurrent_key_generations: .inf\n",
	"listen: [1, 2]\nregion: {a: b}\naccess_keys: x\nattestation: []\ntls: 3\n",
	"access_keys: [{id: [x], secret: {}, principal: 1, policy: 2}]\n",
	"access_keys: [{policy: !!binary aGVsbG8=}]\n",
	"access_keys: [{policy: !!str {a: b}}]\n",
	"listen: !!int x\n",
	"listen: !custom x\n",
	"insecure_http_unsafe: yes\nattestation: {allow_debug: on, allow_debug_unsafe: off}\n",
	"listen: a\n---\nlisten: b\n",
	"---\n...\n",
	"\t",
	"\xef\xbb\xbflisten: a\n",
	"listen: \"\\uD800\"\n",
	"? [a, b]\n: c\n",
	"{" + strings.Repeat("a: b, ", 100) + "}",
	"null\n",
	"~",
	"[]",
	"\"just a string\"",
}

// FuzzLoad: no file panics Load; a file it refuses gives a *FileError naming
// the file and matching ErrConfig; a file it accepts meets the checks Load
// documents.
func FuzzLoad(f *testing.F) {
	st, err := WriteStarter(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	starter, err := os.ReadFile(st.ConfigPath)
	if err != nil {
		f.Fatal(err)
	}
	seeds := [][]byte{starter, demoConfig(f)}
	seeds = append(seeds, packageDocYAML(f)...)
	seeds = append(seeds, docYAML(f, filepath.Join("..", "..", "..", "docs", "kms-server.md"))...)
	seeds = append(seeds, docYAML(f, filepath.Join("..", "..", "..", "README.md"))...)
	if len(seeds) < 8 {
		f.Fatalf("only %d example configurations found", len(seeds))
	}
	// The shapes the package's tests load.
	for _, s := range []string{
		"root_key_file: root.key\naccess_keys: [{id: AKIAX, secret: s, principal: \"arn:aws:iam::111122223333:user/x\"}]\npostgres:\n  url: postgres://u:p@h/db\n  max_conns: 4\n  operation_timeout: 2s\n  cached_reads_on_outage: true\n  cached_reads_max_age: 1m\n",
		"postgres: {url: x, url_env: KMS_TEST_PG_URL}\n",
		"key_store_dir: keys\npostgres: {url: x, pool: 3}\n",
		"attestation: {allow_debug: false, allow_debug_unsafe: true}\n",
		"listen: 127.0.0.1:1\nmax_concurrent_key_generations: -1\n",
		"key_usage_flush_interval: 500ms\n",
		"key_usage_flush_interval: [1m]\n",
		"listen: 127.0.0.1:1\nlisten_adress: x\n",
		"tls: {cert: c.pem, key: k.pem, client_ca: ca.pem}\ninsecure_http_unsafe: true\n",
		"access_keys: [{id: a, policy: '{\"Version\":\"2012-10-17\",\"Statement\":[]}'}]\n",
	} {
		seeds = append(seeds, []byte(s))
	}
	for _, s := range hostileConfigs {
		seeds = append(seeds, []byte(s))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "kms-server.yaml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(p)
		if err != nil {
			var fe *FileError
			if cfg != nil {
				t.Fatal("a File beside an error")
			}
			if !errors.Is(err, ErrConfig) || !errors.As(err, &fe) || fe.Path != p {
				t.Fatalf("error %T %v: want a *FileError for %s matching ErrConfig", err, err, p)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, p+": ") || len(msg) == len(p)+2 {
				t.Fatalf("error %q does not name the file and say what is wrong", msg)
			}
			return
		}
		if cfg == nil || cfg.Listen == "" || cfg.MaxConcurrentKeyGenerations < 0 {
			t.Fatalf("accepted %+v", cfg)
		}
		if d := cfg.KeyUsageFlushInterval; d != nil && (*d < MinKeyUsageFlushInterval || *d > MaxKeyUsageFlushInterval) {
			t.Fatalf("accepted key_usage_flush_interval %v", *d)
		}
		if cfg.Attestation.AllowDebug != nil && *cfg.Attestation.AllowDebug && !cfg.Attestation.AllowDebugUnsafe {
			t.Fatal("allow_debug: true did not take effect")
		}
	})
}
