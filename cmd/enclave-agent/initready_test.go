// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/enclave/agent"
)

// takenPort holds a loopback port for the test's lifetime and returns it.
func takenPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// TestInitEndpointBindFails: when an endpoint cannot listen (its port is
// taken: another process squats it), init fails with an error naming the
// flag, exit 1, and never starts the application.
func TestInitEndpointBindFails(t *testing.T) {
	e := startKMS(t)
	for _, flag := range []string{"--kms-listen", "--listen"} {
		t.Run(flag, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "app-ran")
			code, _, stderr := e.run(t, context.Background(), append(e.globalArgs(pcr0Hex), "init", "--seed-entropy=false",
				flag, takenPort(t), "--", "sh", "-c", "touch "+marker)...)
			// The marker shows an application that ran; the supervisor's
			// log line one that was started and stopped before it could.
			if _, err := os.Stat(marker); err == nil || strings.Contains(stderr, "boot: application") {
				t.Errorf("the application was started although %s could not listen:\n%s", flag, stderr)
			}
			if code != 1 || !strings.Contains(stderr, "enclave-agent: error: init: "+flag+" ") ||
				!strings.Contains(stderr, "enclave-agent: hint: ") {
				t.Fatalf("init %s on a taken port: exit %d, want 1 with an error naming %s and a hint:\n%s", flag, code, flag, stderr)
			}
		})
	}
}

// TestInitEndpointsListenFirst: the application's very first request to
// each local endpoint, made at once with no retry, is answered (init waits
// for both endpoints to listen before it starts the application). Both
// listen on kernel-assigned ports, which the application learns from
// ENCLAVE_AGENT_KMS_ENDPOINT and ENCLAVE_AGENT_LISTEN: no port is found
// free and released first, for another process to take in between.
func TestInitEndpointsListenFirst(t *testing.T) {
	e := startKMS(t)
	out := filepath.Join(t.TempDir(), "out")
	// One connection attempt each (curl retries nothing by default); a
	// refused connection makes curl exit 7, recorded in out.
	app := `echo "kms-env=$ENCLAVE_AGENT_KMS_ENDPOINT att-env=$ENCLAVE_AGENT_LISTEN" >>` + out + `; ` +
		`curl -sS -o /dev/null -w 'kms=%{http_code}\n' -X POST "$ENCLAVE_AGENT_KMS_ENDPOINT/" >>` + out + ` 2>&1 || echo kms-failed=$? >>` + out + `; ` +
		`curl -sS -o /dev/null -w 'att=%{http_code}\n' "http://${ENCLAVE_AGENT_LISTEN#tcp://}` + agent.HealthPath + `" >>` + out + ` 2>&1 || echo att-failed=$? >>` + out
	code, _, stderr := e.run(t, context.Background(), append(e.globalArgs(pcr0Hex), "init", "--seed-entropy=false",
		"--kms-listen", "127.0.0.1:0", "--listen", "tcp://127.0.0.1:0", "--", "sh", "-c", app)...)
	b, err := os.ReadFile(out)
	if code != 0 || err != nil {
		t.Fatalf("init exit %d (%v):\n%s\n%s", code, err, b, stderr)
	}
	got := string(b)
	if !regexp.MustCompile(`kms-env=http://127\.0\.0\.1:[1-9][0-9]* att-env=tcp://127\.0\.0\.1:[1-9][0-9]*\n`).MatchString(got) {
		t.Fatalf("the application's environment does not name the bound endpoints:\n%s\n%s", got, stderr)
	}
	if strings.Contains(got, "failed") || !strings.Contains(got, "kms=4") || !strings.Contains(got, "att=200") {
		t.Fatalf("the application's first requests were not answered (want kms=4xx for an empty request, att=200):\n%s\n%s", got, stderr)
	}
}

// TestInitStopsOnSIGTERMWhileEndpointsStart: a stop while init waits for its
// endpoints to listen is a clean stop (exit 0), the application not run.
func TestInitStopsOnSIGTERMWhileEndpointsStart(t *testing.T) {
	e := startKMS(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	marker := filepath.Join(t.TempDir(), "app-ran")
	code, _, stderr := e.run(t, ctx, append(e.globalArgs(pcr0Hex), "init", "--seed-entropy=false",
		"--kms-listen", "127.0.0.1:0", "--listen", "tcp://127.0.0.1:0", "--", "sh", "-c", "touch "+marker)...)
	if _, err := os.Stat(marker); err == nil || code != 0 || !strings.Contains(stderr, "stopped=true") {
		t.Fatalf("init exit %d, want 0, stopped, the application not run:\n%s", code, stderr)
	}
}
