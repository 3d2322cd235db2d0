// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/enclavekit/enclavekit/host/proxy"
	"github.com/enclavekit/enclavekit/internal/cli"
	"github.com/enclavekit/enclavekit/internal/clitest"
)

// TestMain lets the tests run this binary as host-proxy itself, so that
// SIGTERM reaches main's signal handling, and registers it as the scripts'
// host-proxy command.
func TestMain(m *testing.M) {
	if os.Getenv("HOST_PROXY_TEST_MAIN") == "1" {
		os.Args = append([]string{"host-proxy"}, strings.Fields(os.Getenv("HOST_PROXY_ARGS"))...)
		main()
		return
	}
	testscript.Main(m, map[string]func(){"host-proxy": main})
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestScript runs the command-line scripts in testdata/script: help,
// version, --check, and every usage (exit 2) and runtime (exit 1) failure.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  filepath.Join("testdata", "script"),
		Cmds: clitest.Cmds(),
		Setup: func(e *testscript.Env) error {
			deploy, err := filepath.Abs(filepath.Join("..", "..", "deploy"))
			e.Setenv("DEPLOY", deploy)
			return err
		},
	})
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
	// upstream gets a value for each connection host-proxy makes to it.
	upstream := make(chan struct{}, 8)
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			select {
			case upstream <- struct{}{}:
			default:
			}
			go func() { defer c.Close(); got, _ := io.ReadAll(c); _, _ = c.Write(got) }()
		}
	}()
	upPort := up.Addr().(*net.TCPAddr).Port
	allow := writeFile(t, "allow.yaml", "allowlist:\n  - {address: 127.0.0.1, port: "+strconv.Itoa(upPort)+"}\n")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOST_PROXY_TEST_MAIN=1",
		"HOST_PROXY_ARGS=-w 16 --config "+allow+" --listen tcp://127.0.0.1:0 --shutdown-timeout 20s 8000 127.0.0.1 "+strconv.Itoa(upPort))
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
	waitLog := func(substr string) string {
		t.Helper()
		timeout := time.After(waitLimit)
		for {
			select {
			case l, ok := <-logs:
				if !ok {
					t.Fatalf("process ended before logging %q:\n%s", substr, strings.Join(all, "\n"))
				}
				all = append(all, l)
				if strings.Contains(l, substr) {
					return l
				}
			case <-timeout:
				t.Fatalf("no %q in the log:\n%s", substr, strings.Join(all, "\n"))
			}
		}
	}
	// A kernel-assigned port, read from the route's start line (a port
	// found free and released first may be taken before host-proxy binds).
	m := regexp.MustCompile(`listen=tcp://(\S+)`).FindStringSubmatch(waitLog("route ready"))
	if m == nil {
		t.Fatalf("no listen=tcp://... in the route's start line:\n%s", strings.Join(all, "\n"))
	}
	listen := m[1]

	c, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitLimit))
	if _, err := c.Write([]byte("before SIGTERM,")); err != nil {
		t.Fatal(err)
	}
	// The connection is in flight once host-proxy has accepted it and
	// connected upstream (until then it waits in the listen backlog, and
	// closing the listener resets it).
	select {
	case <-upstream:
	case <-time.After(waitLimit):
		t.Fatalf("host-proxy did not connect upstream in %v:\n%s", waitLimit, strings.Join(all, "\n"))
	}
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

// TestHelpListsEveryFlag: the help describes every flag the command
// accepts, so the two cannot drift apart.
func TestHelpListsEveryFlag(t *testing.T) {
	flagSet(&options{}).VisitAll(func(f *flag.Flag) {
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		if !regexp.MustCompile(`(^|[\s,])` + regexp.QuoteMeta(dash+f.Name) + `\b`).MatchString(usage) {
			t.Errorf("the help does not describe %s%s", dash, f.Name)
		}
	})
}

// TestListenFailure checks the message of each kind of listener that cannot
// be bound, including those no script can make fail here (a busy vsock port,
// the credentials listener).
func TestListenFailure(t *testing.T) {
	busy := &net.OpError{Op: "listen", Net: "vsock", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	pos := []string{"8000", "kms.example.com", "443"}
	for _, tt := range []struct {
		le   proxy.ListenError
		o    options
		want string
	}{
		{proxy.ListenError{Route: "vsock://any:8000", Addr: "vsock://any:8000", Err: busy}, options{},
			"LOCAL_PORT 8000: listen on vsock://any:8000: bind: address already in use"},
		{proxy.ListenError{Route: "vsock://3:9000", Addr: "vsock://3:9000", Err: busy}, options{listen: "vsock://3:9000"},
			"--listen vsock://3:9000: bind: address already in use"},
		{proxy.ListenError{Route: "kms", Addr: "vsock://any:8000", Err: busy}, options{},
			`hp.yaml: route "kms": listen on vsock://any:8000: bind: address already in use`},
		{proxy.ListenError{Service: "credentials", Addr: "vsock://any:8002", Err: busy}, options{},
			"hp.yaml: credentials: listen on vsock://any:8002: bind: address already in use"},
		{proxy.ListenError{Service: "admin", Addr: "tcp://127.0.0.1:9102", Err: syscall.EACCES}, options{admin: "127.0.0.1:9102"},
			"--admin 127.0.0.1:9102: permission denied"},
		{proxy.ListenError{Service: "admin", Addr: "tcp://127.0.0.1:9102", Err: syscall.EACCES}, options{},
			"hp.yaml: admin: listen on tcp://127.0.0.1:9102: permission denied"},
	} {
		positional := "vsock://any:8000"
		if tt.o.listen != "" {
			positional = tt.o.listen
		}
		err := listenFailure(&tt.le, "hp.yaml", positional, pos, &tt.o)
		if err.Error() != tt.want || cli.ExitCode(err) != cli.ExitFailure || !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EACCES) {
			t.Errorf("%+v: %v (exit %d), want %q", tt.le, err, cli.ExitCode(err), tt.want)
		}
	}
}

// TestWorkersDefault checks that -w 0, like no -w, is the default limit:
// the file's max_connections, or 1024 without one; the help says so.
func TestWorkersDefault(t *testing.T) {
	allow := "allowlist:\n  - {address: 127.0.0.1, port: 9}\n"
	for _, tt := range []struct {
		file string
		w    []string
		want string
	}{
		{allow, []string{"-w", "0"}, "max_connections=1024"},
		{allow, nil, "max_connections=1024"},
		{allow + "max_connections: 256\n", []string{"--num_workers", "0"}, "max_connections=256"},
		{allow + "max_connections: 256\n", nil, "max_connections=256"},
		{allow + "max_connections: 256\n", []string{"-w", "8"}, "max_connections=8"},
	} {
		cfg := writeFile(t, "allow.yaml", tt.file)
		args := append([]string{"--config", cfg, "--listen", "tcp://127.0.0.1:0", "8000", "127.0.0.1", "9"}, tt.w...)
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		done := make(chan int, 1)
		go func() { done <- run(ctx, args, io.Discard, pw); pw.Close() }()
		var line string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "route ready") {
				line = sc.Text()
				break
			}
		}
		cancel()
		go io.Copy(io.Discard, pr)
		if code := <-done; code != cli.ExitOK {
			t.Errorf("%v: exit %d", tt.w, code)
		}
		if !strings.Contains(line, " "+tt.want) {
			t.Errorf("%v with %q: route line %q, want %s", tt.w, tt.file, line, tt.want)
		}
	}
	var help strings.Builder
	run(context.Background(), []string{"--help"}, &help, io.Discard)
	if !strings.Contains(help.String(), "default: the --config file's max_connections,\n                      1024 unless set; 0 is the default") {
		t.Errorf("the help does not state -w's default:\n%s", help.String())
	}
}
