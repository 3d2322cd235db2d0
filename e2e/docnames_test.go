// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
)

// The names the docs give users to type or to watch for (flags, metrics,
// KMS error names) are checked against the code here, so that a renamed
// or removed one fails a test instead of a user's deployment.

// binaryFlagSources lists, for each binary, the source files that define
// its flags.
var binaryFlagSources = map[string][]string{
	"enclave-agent": {"../cmd/enclave-agent/*.go"},
	"host-proxy":    {"../cmd/host-proxy/*.go"},
	"kms-server":    {"../cmd/kms-server/*.go"},
	"nitro-verify":  {"../cmd/nitro-verify/*.go", "../internal/verifycli/*.go"},
}

// flagDefRE matches a flag definition of package flag: fs.String("name",
// fs.BoolVar(&v, "name", fs.Var(value, "name", fs.Func("name", ...; the
// name is the first string argument followed by another argument.
var flagDefRE = regexp.MustCompile(`\.(?:String|Bool|Int|Int64|Uint|Uint64|Float64|Duration|Var|Func|BoolFunc|TextVar)(?:Var)?\((?:[^()\n]*?,\s*)?"([a-z0-9][a-z0-9_-]*)",`)

// binaryFlags returns the flags each binary's flag sets define (every
// subcommand's together), plus help and h, which every binary answers.
func binaryFlags(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for bin, globs := range binaryFlagSources {
		set := map[string]bool{"help": true, "h": true}
		for _, g := range globs {
			files, err := filepath.Glob(g)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range flagDefRE.FindAllStringSubmatch(string(data), -1) {
					set[m[1]] = true
				}
			}
		}
		if len(set) < 6 {
			t.Fatalf("found only %d flags of %s in %v: the pattern no longer matches its flag definitions", len(set), bin, globs)
		}
		out[bin] = set
	}
	return out
}

var (
	fenceRE    = regexp.MustCompile("(?m)^[ \t]*```")
	codeSpanRE = regexp.MustCompile("`([^`]+)`")
	// commandRE finds a binary's name used as a command: at the start of
	// a line or after a space or shell punctuation, and followed by a space.
	commandRE = regexp.MustCompile(`(?:^|[\s(|;&$"'/])(enclave-agent|host-proxy|kms-server|nitro-verify)[ \t]+([^|;&)#` + "`" + `]*)`)
	longFlag  = regexp.MustCompile(`(?:^|\s)--([a-z][a-z0-9_-]*)`)
)

// docCommands returns the command lines of a Markdown file that run one
// of the four binaries: the lines of its fenced blocks (continuations
// joined) and its code spans, each cut at the first shell separator or
// comment.
func docCommands(text string) []string {
	var chunks []string
	parts := fenceRE.Split(text, -1)
	for i, p := range parts {
		if i%2 == 1 { // inside a fence
			p = strings.ReplaceAll(p, "\\\n", " ")
			chunks = append(chunks, strings.Split(p, "\n")...)
			continue
		}
		for _, m := range codeSpanRE.FindAllStringSubmatch(p, -1) {
			chunks = append(chunks, strings.ReplaceAll(m[1], "\n", " "))
		}
	}
	var cmds []string
	for _, c := range chunks {
		for _, m := range commandRE.FindAllStringSubmatch(c, -1) {
			cmds = append(cmds, m[1]+" "+m[2])
		}
	}
	return cmds
}

func TestDocCommands(t *testing.T) {
	md := "Run `enclave-agent serve --listen ADDR` or `--bogus` alone.\n\n" +
		"```sh\nenclave-agent --nsm emulator \\\n  attest --nonce 01 | nitro-verify --root r.pem - # not --json\n" +
		"install bin/host-proxy /usr/local/bin/\nhost-proxy --config deploy/host-proxy.yaml --check\n```\n"
	got := docCommands(md)
	want := []string{
		"enclave-agent serve --listen ADDR",
		"enclave-agent --nsm emulator    attest --nonce 01 ",
		"nitro-verify --root r.pem - ",
		"host-proxy /usr/local/bin/", // a path: no flags, nothing checked
		"host-proxy --config deploy/host-proxy.yaml --check",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("docCommands:\n got  %q\n want %q", got, want)
	}
	df := "CMD [\"/enclave-agent\", \\\n     \"--region\", \"eu-west-1\", \\\n     \"serve\", \"--listen\", \"vsock://any:5005\"]\n" +
		"ExecStart=/usr/local/bin/host-proxy --config /etc/h.yaml --log-format json\n"
	got = nil
	for _, c := range deployCommands(df) {
		got = append(got, strings.Join(strings.Fields(c), " "))
	}
	want = []string{
		"enclave-agent --region eu-west-1 serve --listen vsock://any:5005",
		"host-proxy --config /etc/h.yaml --log-format json",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("deployCommands:\n got  %q\n want %q", got, want)
	}
}

// deployFiles are the files of deploy/ that run the binaries: a systemd
// unit, Dockerfiles (CMD and ENTRYPOINT as JSON arrays) and the example
// configuration's comments.
var deployFiles = []string{
	"../deploy/host-proxy.service",
	"../deploy/host-proxy.yaml",
	"../deploy/enclave/Dockerfile",
	"../deploy/enclave/python-app/Dockerfile",
}

// deployCommands returns the command lines of a deploy/ file: its lines,
// continuations joined, with a JSON array's punctuation taken out.
func deployCommands(text string) []string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	text = strings.NewReplacer(`"`, " ", ",", " ", "[", " ", "]", " ").Replace(text)
	var cmds []string
	for _, line := range strings.Split(text, "\n") {
		for _, m := range commandRE.FindAllStringSubmatch(line, -1) {
			cmds = append(cmds, m[1]+" "+m[2])
		}
	}
	return cmds
}

// TestDocFlagsExist checks every flag the docs give one of the four
// binaries (in a command block or a code span that names the binary), or
// deploy/'s files do, is one of its flags. It cannot tell subcommands
// apart: a flag of enclave-agent's genkey given to its serve passes here.
func TestDocFlagsExist(t *testing.T) {
	flags := binaryFlags(t)
	checked := 0
	for _, f := range append(docFiles(t), deployFiles...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cmds := docCommands(string(data))
		if !strings.HasSuffix(f, ".md") {
			cmds = deployCommands(string(data))
		}
		for _, cmd := range cmds {
			bin, rest, _ := strings.Cut(cmd, " ")
			for _, m := range longFlag.FindAllStringSubmatch(rest, -1) {
				checked++
				if !flags[bin][m[1]] {
					t.Errorf("%s: %q names --%s, which %s does not have", f, cmd, m[1], bin)
				}
			}
		}
	}
	t.Logf("%d flags checked", checked)
	if checked < 50 {
		t.Fatalf("checked only %d flags in the docs: the commands are no longer found", checked)
	}
}

// codeNames returns the strings of the non-test Go files matching glob
// that re matches (its first group).
func codeNames(t *testing.T, re *regexp.Regexp, globs ...string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, g := range globs {
		files, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(string(data), -1) {
				out[m[1]] = true
			}
		}
	}
	return out
}

// docTexts returns README.md, docs/*.md and the packages' doc.go files,
// by name.
func docTexts(t *testing.T) map[string]string {
	t.Helper()
	files := docFiles(t)
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.Name() == "doc.go" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(data)
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestDocMetricNames checks the metrics the docs name exist, and that
// each metric is documented: kms-server's in docs/kms-server.md,
// host-proxy's in host/proxy's package documentation.
func TestDocMetricNames(t *testing.T) {
	kms := codeNames(t, regexp.MustCompile(`Name:\s*"(kms_[a-z0-9_]+)"`), "../host/kmsserver/*.go")
	hp := map[string]bool{}
	for n := range codeNames(t, regexp.MustCompile(`Namespace:\s*"hostproxy",\s*Name:\s*"([a-z0-9_]+)"`), "../host/proxy/*.go") {
		hp["hostproxy_"+n] = true
	}
	if len(kms) < 3 || len(hp) < 5 {
		t.Fatalf("found %d kms-server and %d host-proxy metrics in the code: the pattern no longer matches", len(kms), len(hp))
	}
	named := regexp.MustCompile(`\b((?:kms|hostproxy)_[a-z0-9_]+_(?:total|seconds|active|bytes))\b`)
	for f, text := range docTexts(t) {
		for _, m := range named.FindAllStringSubmatch(text, -1) {
			if !kms[m[1]] && !hp[m[1]] {
				t.Errorf("%s names the metric %s, which neither kms-server nor host-proxy exports", f, m[1])
			}
		}
	}
	for _, want := range []struct {
		file  string
		names map[string]bool
	}{{"../docs/kms-server.md", kms}, {"../host/proxy/doc.go", hp}} {
		data, err := os.ReadFile(want.file)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range sortedKeys(want.names) {
			if !regexp.MustCompile(`\b` + n + `\b`).Match(data) {
				t.Errorf("%s does not document the metric %s", want.file, n)
			}
		}
	}
}

// TestDocKMSErrorNames checks every KMS exception name the docs give is
// one kms-server or the agent answers, and that docs/kms-server.md lists
// every one kms-server answers.
func TestDocKMSErrorNames(t *testing.T) {
	server := codeNames(t, regexp.MustCompile(`=\s*"([A-Za-z]+Exception)"`), "../host/kmsserver/*.go")
	if len(server) < 20 {
		t.Fatalf("found %d exception names in host/kmsserver: the pattern no longer matches", len(server))
	}
	known := codeNames(t, regexp.MustCompile(`"([A-Za-z]+Exception)"`), "../host/kmsserver/*.go", "../enclave/agent/*.go")
	exc := regexp.MustCompile(`\b([A-Z][A-Za-z]+Exception)\b`)
	for f, text := range docTexts(t) {
		for _, m := range exc.FindAllStringSubmatch(text, -1) {
			if !known[m[1]] {
				t.Errorf("%s names %s, which neither kms-server nor the agent answers", f, m[1])
			}
		}
	}
	data, err := os.ReadFile("../docs/kms-server.md")
	if err != nil {
		t.Fatal(err)
	}
	_, errs, ok := strings.Cut(string(data), "\n## Errors\n")
	if !ok {
		t.Fatal(`docs/kms-server.md has no "## Errors" section`)
	}
	errs, _, _ = strings.Cut(errs, "\n## ")
	for _, n := range sortedKeys(server) {
		if !strings.Contains(errs, "`"+n+"`") {
			t.Errorf("docs/kms-server.md's Errors section does not list %s, which kms-server answers", n)
		}
	}
}

// yamlKeys returns the YAML keys of ty's fields, at every depth.
func yamlKeys(ty reflect.Type) map[string]bool {
	keys := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < ty.NumField(); i++ {
			f := ty.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			keys[tag] = true
			walk(f.Type)
		}
	}
	walk(ty)
	return keys
}

// deprecatedKMSKeys are kms-server configuration keys kept for old files
// only: kmsconfig documents them, docs/kms-server.md does not.
var deprecatedKMSKeys = map[string]bool{"allow_debug": true}

// TestKMSServerConfigKeysDocumented checks every key kms-server's
// configuration file takes is documented in docs/kms-server.md and in
// package kmsconfig's documentation (which kms-server --help points to),
// and that the YAML blocks of docs/kms-server.md and README.md use no key
// it does not take.
func TestKMSServerConfigKeysDocumented(t *testing.T) {
	keys := yamlKeys(reflect.TypeOf(kmsconfig.File{}))
	if len(keys) < 20 {
		t.Fatalf("found only %d configuration keys in kmsconfig.File", len(keys))
	}
	src, err := os.ReadFile("../host/kmsserver/kmsconfig/kmsconfig.go")
	if err != nil {
		t.Fatal(err)
	}
	pkgDoc, _, ok := strings.Cut(string(src), "\npackage kmsconfig")
	if !ok {
		t.Fatal("kmsconfig.go: no package clause")
	}
	guide, err := os.ReadFile("../docs/kms-server.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range sortedKeys(keys) {
		mentioned := regexp.MustCompile(`(^|[\s{,#(` + "`" + `])` + regexp.QuoteMeta(k) + `:`)
		if !mentioned.MatchString(pkgDoc) {
			t.Errorf("kmsconfig's package documentation does not show %q, which kms-server's configuration takes", k)
		}
		if !deprecatedKMSKeys[k] && !mentioned.Match(guide) {
			t.Errorf("docs/kms-server.md does not show %q, which kms-server's configuration takes", k)
		}
	}
	yamlBlock := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	keyLine := regexp.MustCompile(`(?m)^[\s#-]*([a-z][a-z0-9_]*):(\s|$)`)
	for _, f := range []string{"../docs/kms-server.md", "../README.md"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range yamlBlock.FindAllStringSubmatch(string(data), -1) {
			for _, m := range keyLine.FindAllStringSubmatch(b[1], -1) {
				if !keys[m[1]] {
					t.Errorf("%s: a YAML block shows %q, which kms-server's configuration does not take", f, m[1])
				}
			}
		}
	}
}
