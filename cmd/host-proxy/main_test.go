// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the tests run this binary as host-proxy itself, so that
// SIGTERM reaches main's signal handling.
func TestMain(m *testing.M) {
	if os.Getenv("HOST_PROXY_TEST_MAIN") == "1" {
		os.Args = append([]string{"host-proxy"}, strings.Fields(os.Getenv("HOST_PROXY_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsageErrors(t *testing.T) {
	allow := writeFile(t, "allow.yaml", "allowlist:\n  - {address: kms.example.com, port: 443}\n")
	tests := []struct {
		args []string
		want string
	}{
		{nil, "nothing to do"},
		{[]string{"8000", "kms.example.com"}, "want LOCAL_PORT REMOTE_HOST REMOTE_PORT (got 2 arguments)"},
		{[]string{"--config", allow, "8000", "other.example.com", "443"},
			`route "vsock-8000": destination other.example.com:443 is not in the allow-list; add "- {address: other.example.com, port: 443}"`},
		{[]string{"--config", allow, "x", "kms.example.com", "443"}, `LOCAL_PORT "x"`},
		{[]string{"--config", allow, "8000", "kms.example.com", "0"}, `REMOTE_PORT "0"`},
		{[]string{"-4", "-6", "--config", allow, "8000", "kms.example.com", "443"}, "mutually exclusive"},
		{[]string{"--config", allow, "--listen", "tcp://:1", "8000", "kms.example.com", "443"}, "--listen: bad address"},
		{[]string{"--config", allow, "-w", "4"}, "apply to LOCAL_PORT"},
		{[]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, "no such file"},
		{[]string{"--config", writeFile(t, "bad.yaml", "allowlist: [{address: a.example, port: 1, typo: 2}]\n")}, "field typo not found"},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--log-format", "xml", "--config", allow, "8000", "kms.example.com", "443"}, `--log-format "xml"`},
	}
	for _, tt := range tests {
		code, _, stderr := runCmd(tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "host-proxy: error: ") {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestCheckAndHelp(t *testing.T) {
	allow := writeFile(t, "allow.yaml", "allowlist:\n  - {address: kms.example.com, port: 443}\n")
	// Flags after the positional arguments, as vsock-proxy accepts them.
	code, stdout, stderr := runCmd("8000", "kms.example.com", "443", "--config", allow, "-w", "8", "--check")
	if code != 0 || !strings.Contains(stdout, "configuration ok") {
		t.Errorf("--check: %d %q %q", code, stdout, stderr)
	}
	code, stdout, _ = runCmd("--help")
	if code != 0 || !strings.Contains(stdout, "usage: host-proxy [flags] LOCAL_PORT REMOTE_HOST REMOTE_PORT") {
		t.Errorf("--help: %d %q", code, stdout)
	}
	code, stdout, _ = runCmd("--version")
	if code != 0 || !strings.HasPrefix(stdout, "host-proxy ") {
		t.Errorf("--version: %d %q", code, stdout)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestSIGTERMDrain runs host-proxy as a process in vsock-proxy's invocation
// (with --listen for this machine), sends SIGTERM with a connection open and
// checks that the connection is served to its end, that new connections are
// refused, and that the process exits 0.
func TestSIGTERMDrain(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); got, _ := io.ReadAll(c); _, _ = c.Write(got) }()
		}
	}()
	upPort := up.Addr().(*net.TCPAddr).Port
	allow := writeFile(t, "allow.yaml", "allowlist:\n  - {address: 127.0.0.1, port: "+strconv.Itoa(upPort)+"}\n")
	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOST_PROXY_TEST_MAIN=1",
		"HOST_PROXY_ARGS=-w 16 --config "+allow+" --listen tcp://"+listen+" --shutdown-timeout 20s 8000 127.0.0.1 "+strconv.Itoa(upPort))
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	logs := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs <- sc.Text()
		}
		close(logs)
	}()
	var all []string
	waitLog := func(substr string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-logs:
				if !ok {
					t.Fatalf("process ended before logging %q:\n%s", substr, strings.Join(all, "\n"))
				}
				all = append(all, l)
				if strings.Contains(l, substr) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q in the log:\n%s", substr, strings.Join(all, "\n"))
			}
		}
	}
	waitLog("route ready")

	c, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte("before SIGTERM,")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLog("shutting down: no longer accepting")
	if c2, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
		c2.Close()
		t.Error("new connection accepted after SIGTERM")
	}
	if _, err := c.Write([]byte(" after SIGTERM")); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "before SIGTERM, after SIGTERM" {
		t.Fatalf("in-flight connection: %q, %v", got, err)
	}
	waitLog("drained all connections")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

func TestDeployExampleValid(t *testing.T) {
	code, stdout, stderr := runCmd("--config", "../../deploy/host-proxy.yaml", "--check")
	if code != 0 || !strings.Contains(stdout, "configuration ok") {
		t.Fatalf("deploy/host-proxy.yaml: exit %d\n%s%s", code, stdout, stderr)
	}
}
