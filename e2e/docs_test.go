// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/host/proxy"
)

// The shell blocks of README.md and docs/*.md are tested by running them.
// Every ```sh block is preceded by one marker comment:
//
//	<!-- doctest -->                     run it; it must exit 0
//	<!-- doctest exit=1 -->              run it in a subshell; it must exit 1
//	<!-- doctest exit=fail -->           ... it must exit non-zero
//	<!-- doctest exit=1 expect="TEXT" --> ... and print TEXT (stdout or stderr)
//	<!-- doctest requires=aws,curl -->   run it only where these commands exist
//	<!-- doctest skip: REASON -->        not runnable here (a Nitro host, AWS)
//
// The runnable blocks of one file run in order in one bash (so variables
// and background servers carry over), in an empty directory that holds
// symbolic links to the repository's testvectors/, deploy/ and eif/, with the
// freshly built binaries first on PATH; a block with exit= or expect= runs
// in a subshell. Background processes are stopped
// when the file is done. A block without a marker fails the test: every
// command block either runs or says why it cannot.

// docBlock is one ```sh block.
type docBlock struct {
	file     string
	line     int    // of the opening fence
	marked   bool   // a marker comment precedes it
	marker   string // the marker comment's options
	body     string
	exit     int // -1: any non-zero status
	requires []string
	expect   string
	skip     string
}

var (
	markerRE = regexp.MustCompile(`^<!--\s*doctest\b(.*?)-->\s*$`)
	optionRE = regexp.MustCompile(`(\w+)=("[^"]*"|\S+)`)
)

// parseDocBlocks returns the shell blocks of a Markdown file.
func parseDocBlocks(name string, data []byte) ([]docBlock, error) {
	var blocks []docBlock
	sc := bufio.NewScanner(bytes.NewReader(data))
	var prev string // last non-blank line before a fence
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "```") {
			if trimmed != "" {
				prev = trimmed
			}
			continue
		}
		lang := strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))
		indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
		start := n
		var body strings.Builder
		closed := false
		for sc.Scan() {
			n++
			l := sc.Text()
			if strings.TrimSpace(l) == "```" {
				closed = true
				break
			}
			body.WriteString(strings.TrimPrefix(l, indent))
			body.WriteByte('\n')
		}
		if !closed {
			return nil, fmt.Errorf("%s:%d: unclosed code fence", name, start)
		}
		if lang == "sh" || lang == "bash" || lang == "console" || lang == "shell" {
			b := docBlock{file: name, line: start, body: body.String()}
			if m := markerRE.FindStringSubmatch(prev); m != nil {
				b.marked, b.marker = true, strings.TrimSpace(m[1])
				if err := b.parseMarker(); err != nil {
					return nil, fmt.Errorf("%s:%d: %v", name, start, err)
				}
			}
			blocks = append(blocks, b)
		}
		prev = ""
	}
	return blocks, sc.Err()
}

func (b *docBlock) parseMarker() error {
	m := b.marker
	if r, ok := strings.CutPrefix(m, "skip:"); ok {
		b.skip = strings.TrimSpace(r)
		if b.skip == "" {
			return fmt.Errorf("doctest skip needs a reason")
		}
		return nil
	}
	rest := strings.TrimSpace(optionRE.ReplaceAllString(m, ""))
	if rest != "" {
		return fmt.Errorf("doctest: cannot read %q", rest)
	}
	for _, o := range optionRE.FindAllStringSubmatch(m, -1) {
		f, k, v := o[0], o[1], strings.Trim(o[2], `"`)
		switch k {
		case "exit":
			if v == "fail" {
				b.exit = -1
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("doctest exit=%q: %v", v, err)
			}
			b.exit = n
		case "requires":
			b.requires = strings.Split(v, ",")
		case "expect":
			b.expect = v
		default:
			return fmt.Errorf("doctest: unknown option %q", f)
		}
	}
	return nil
}

// docFiles lists README.md and docs/*.md.
func docFiles(t *testing.T) []string {
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"../README.md"}, files...)
}

// TestDocBlocksMarked checks every shell block says whether it runs.
func TestDocBlocksMarked(t *testing.T) {
	total := 0
	for _, f := range docFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := parseDocBlocks(f, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			total++
			if !b.marked {
				t.Errorf("%s:%d: a shell block without a <!-- doctest --> or <!-- doctest skip: REASON --> marker", b.file, b.line)
			}
		}
	}
	if total == 0 {
		t.Fatal("no shell blocks found in the docs")
	}
}

func TestParseDocBlocks(t *testing.T) {
	md := "text\n\n<!-- doctest exit=1 requires=aws expect=\"no such key\" -->\n```sh\nfalse\n```\n\n```go\nx\n```\n- item\n\n  <!-- doctest skip: needs a Nitro host -->\n  ```sh\n  nitro-cli describe-enclaves\n  ```\n```sh\nunmarked\n```\n"
	blocks, err := parseDocBlocks("x.md", []byte(md))
	if err != nil {
		t.Fatal(err)
	}
	want := []docBlock{
		{file: "x.md", line: 4, marked: true, marker: `exit=1 requires=aws expect="no such key"`, body: "false\n", exit: 1, requires: []string{"aws"}, expect: "no such key"},
		{file: "x.md", line: 14, marked: true, marker: "skip: needs a Nitro host", body: "nitro-cli describe-enclaves\n", skip: "needs a Nitro host"},
		{file: "x.md", line: 17, body: "unmarked\n"},
	}
	if !reflect.DeepEqual(blocks, want) {
		t.Fatalf("got  %+v\nwant %+v", blocks, want)
	}
	if _, err := parseDocBlocks("y.md", []byte("<!-- doctest frob -->\n```sh\nx\n```\n")); err == nil {
		t.Fatal("unknown marker option: want an error")
	}
}

// netnsPrefix returns the command prefix that runs the docs' commands in a
// network namespace of their own (loopback only), so that the fixed ports
// the docs use (kms-server's 7700, the agent's 5005) cannot collide with
// anything else on the machine; nil when unshare(1) and ip(8) cannot make
// one here.
func netnsPrefix() []string {
	if _, err := exec.LookPath("unshare"); err != nil {
		return nil
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return nil
	}
	for _, flags := range []string{"-n", "-rn"} {
		if exec.Command("unshare", flags, ip, "link", "set", "lo", "up").Run() == nil {
			return []string{"unshare", flags, "sh", "-c", ip + " link set lo up && exec bash doctest.sh"}
		}
	}
	return nil
}

// docLock serialises doc tests across processes on one machine when they
// cannot have a network namespace each. It waits at most five minutes.
func docLock(t *testing.T) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "enclavekit-doctest.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return
		}
		if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			t.Fatalf("another doc test holds %s (the docs' fixed ports are in use): %v", f.Name(), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDocBlocks runs the runnable shell blocks of every doc file.
func TestDocBlocks(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash is needed to run the docs' shell blocks: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range docFiles(t) {
		name, _ := filepath.Rel(root, filepath.Join(root, strings.TrimPrefix(f, "../")))
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			blocks, err := parseDocBlocks(name, data)
			if err != nil {
				t.Fatal(err)
			}
			runDocFile(t, root, blocks)
		})
	}
}

func runDocFile(t *testing.T, root string, blocks []docBlock) {
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	ran := 0
	for _, b := range blocks {
		where := fmt.Sprintf("%s:%d", b.file, b.line)
		if b.skip != "" {
			t.Run(fmt.Sprintf("line%d", b.line), func(t *testing.T) { t.Skip(b.skip) })
			continue
		}
		if !b.marked {
			continue // TestDocBlocksMarked reports it
		}
		var missing []string
		for _, c := range b.requires {
			if _, err := exec.LookPath(c); err != nil {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			// Later blocks may build on this one: stop here, saying so.
			reason := fmt.Sprintf("needs %s (.ci/run installs it); this block and the rest of its file were not run", strings.Join(missing, ", "))
			t.Run(fmt.Sprintf("line%d", b.line), func(t *testing.T) { t.Skip(reason) })
			break
		}
		ran++
		fmt.Fprintf(&script, "echo '>>> doctest block %s' >&2\n", where)
		if b.exit == 0 && b.expect == "" {
			script.WriteString(b.body)
			continue
		}
		ok, want := fmt.Sprintf(`[ "$rc" = %d ]`, b.exit), strconv.Itoa(b.exit)
		if b.exit == -1 {
			ok, want = `[ "$rc" != 0 ]`, "a failure"
		}
		fmt.Fprintf(&script, "set +e\n(\nset -e\n%s) > .doctest.out 2>&1\nrc=$?\nset -e\ncat .doctest.out\n", b.body)
		fmt.Fprintf(&script, "if ! %s; then echo \">>> doctest: %s exited $rc, want %s\" >&2; exit 1; fi\n", ok, where, want)
		if b.expect != "" {
			fmt.Fprintf(&script, "if ! grep -qF -- %s .doctest.out; then echo \">>> doctest: %s: the output lacks %s\" >&2; exit 1; fi\n", shellQuote(b.expect), where, shellQuote(b.expect))
		}
	}
	script.WriteString("echo '>>> doctest: all blocks done' >&2\n")
	if ran == 0 {
		return
	}

	argv := netnsPrefix()
	if argv == nil {
		docLock(t)
		argv = []string{"bash", "doctest.sh"}
		t.Log("no network namespace here: doc tests on this machine take turns")
	}
	dir := t.TempDir()
	for _, l := range []string{"testvectors", "deploy", "eif"} {
		if err := os.Symlink(filepath.Join(root, l), filepath.Join(dir, l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "doctest.sh"), []byte(script.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "doctest.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	// docs/key-policies.md alone runs the aws CLI and enclave-agent many times (a Python
	// start, a TLS handshake and an emulated attestation each): about 80 s
	// on an idle machine, over 2 min under make test's load. The limit only
	// turns a hang into a failure (with the output) before go test's
	// -timeout (20 min in make test), so it leaves a loaded machine room.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	// Output to a file, not a pipe: background servers keep it open.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	env := []string{"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir, "LANG=C"}
	cmd.Env = env
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	runErr := cmd.Run()
	// Stop what the blocks left running in the background.
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		time.Sleep(200 * time.Millisecond)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	log, _ := os.ReadFile(out.Name())
	if runErr != nil || !bytes.Contains(log, []byte(">>> doctest: all blocks done")) {
		t.Fatalf("the docs' commands failed (%v); output:\n%s", runErr, lastLines(string(log), 80))
	}
	t.Logf("%d blocks ran", ran)
}

// shellQuote quotes s for bash.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// TestHostProxyExampleDocumentsEveryField checks deploy/host-proxy.yaml,
// which says it shows every field, names every key host-proxy accepts.
func TestHostProxyExampleDocumentsEveryField(t *testing.T) {
	data, err := os.ReadFile("../deploy/host-proxy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	keys := yamlKeys(reflect.TypeOf(proxy.Config{}))
	if len(keys) < 10 {
		t.Fatalf("found only %d configuration keys in proxy.Config", len(keys))
	}
	for k := range keys {
		if !regexp.MustCompile(`(?m)(^|[\s{,#])` + regexp.QuoteMeta(k) + `:`).Match(data) {
			t.Errorf("deploy/host-proxy.yaml does not mention %q, which host-proxy accepts", k)
		}
	}
}

// TestDocLinks checks every relative link of README.md and docs/*.md names
// a file or directory of the repository.
func TestDocLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, f := range docFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), target)); err != nil {
				t.Errorf("%s: link to %s: %v", f, m[1], err)
			}
		}
	}
}
