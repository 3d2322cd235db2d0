// SPDX-License-Identifier: Apache-2.0

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestedtls"
	"github.com/enclavekit/enclavekit/enclave/emulator"
	"github.com/enclavekit/enclavekit/internal/verifycli"
	"github.com/rogpeppe/go-internal/testscript"
)

// connectCmds are the script commands of testdata/connect:
//
//	enclave NAME IMAGE [genuine|own-cert|copied-doc|replay|hang-up]
//
// starts, inside the test process, an attested TLS listener on loopback
// for an emulated enclave of IMAGE (PCR0 = SHA-384 of IMAGE), or a parent
// instance in the middle of it, and sets $NAME (HOST:PORT), $NAME_PCR0
// (hex) and writes $WORK/NAME-root.pem (the emulator's root); and
//
//	plainserver NAME
//
// starts a listener that does not speak TLS (see plainServer); and
//
//	reportfails ARGS...
//
// runs nitro-verify ARGS in the test process with a standard output that
// fails every write, and requires exit status 2 and "writing the report:"
// on standard error (see reportFails).
var connectCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"plainserver": plainServer,
	"reportfails": reportFails,
	"enclave": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 2 || len(args) > 3 {
			ts.Fatalf("usage: enclave NAME IMAGE [genuine|own-cert|copied-doc|replay|hang-up]")
		}
		name, image, mode := args[0], args[1], "genuine"
		if len(args) == 3 {
			mode = args[2]
		}
		pcr0 := sha512.Sum384([]byte(image))
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: pcr0[:]}, Logger: log})
		ts.Check(err)
		srv, err := attestedtls.NewServer(&attestedtls.ServerConfig{NSM: emu, Logger: log})
		ts.Check(err)
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app\n") })
		cfg, h := srv.TLSConfig(), srv.Handler(app)
		switch mode {
		case "genuine":
		case "own-cert", "copied-doc":
			var exts []pkix.Extension
			if mode == "copied-doc" {
				c, err := srv.Certificate()
				ts.Check(err)
				for _, e := range c.Leaf.Extensions {
					if e.Id.Equal(attestedtls.OIDExtensionCMW) {
						exts = append(exts, e)
					}
				}
			}
			cfg = &tls.Config{Certificates: []tls.Certificate{selfSigned(ts, exts)}, MinVersion: tls.VersionTLS13}
		case "replay":
			// Answers every challenge with the first document it got.
			var mu sync.Mutex
			var recorded []byte
			inner := h
			h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				if r.URL.Path != attestedtls.ChallengePath {
					inner.ServeHTTP(w, r)
					return
				}
				if recorded == nil {
					rec := &recorder{ResponseWriter: w}
					inner.ServeHTTP(rec, r)
					recorded = rec.body
					return
				}
				w.Header().Set("Content-Type", "application/cbor")
				w.Write(recorded)
			})
		case "hang-up":
			// Completes the attested handshake, then hangs up on the
			// challenge without an answer.
			inner := h
			h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == attestedtls.ChallengePath {
					if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
						c.Close()
					}
					return
				}
				inner.ServeHTTP(w, r)
			})
		default:
			ts.Fatalf("enclave: unknown mode %q", mode)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		hs := &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}
		go hs.ServeTLS(ln, "", "")
		ts.Defer(func() { hs.Close(); emu.Close() })
		ts.Setenv(name, ln.Addr().String())
		ts.Setenv(name+"_PCR0", hex.EncodeToString(pcr0[:]))
		ts.Check(os.WriteFile(ts.MkAbs(name+"-root.pem"), emu.RootPEM(), 0o644))
	},
}

// plainServer is the script command "plainserver NAME": a TCP listener on
// loopback that answers every connection with plain HTTP, not TLS, and
// sets $NAME (HOST:PORT).
func plainServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: plainserver NAME")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\n")
			c.Close()
		}
	}()
	ts.Defer(func() { ln.Close() })
	ts.Setenv(args[0], ln.Addr().String())
}

// recorder keeps a copy of the body it passes on.
type recorder struct {
	http.ResponseWriter
	body []byte
}

func (r *recorder) Write(p []byte) (int, error) {
	r.body = append(r.body, p...)
	return r.ResponseWriter.Write(p)
}

func selfSigned(ts *testscript.TestScript, exts []pkix.Extension) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "parent"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtraExtensions: exts}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ts.Check(err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestScriptConnect runs testdata/connect/*.txtar: nitro-verify --connect
// against emulated enclaves (and parents in the middle) on loopback.
func TestScriptConnect(t *testing.T) {
	all := map[string]func(*testscript.TestScript, bool, []string){}
	for k, v := range cmds {
		all[k] = v
	}
	for k, v := range connectCmds {
		all[k] = v
	}
	testscript.Run(t, testscript.Params{
		Dir:  filepath.Join("testdata", "connect"),
		Cmds: all,
	})
}

// failingWriter fails every write, as a full disk does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// reportFails is the "reportfails ARGS..." script command: nitro-verify
// must not exit 0 when its report could not be written (file arguments
// are relative to the test's directory, not $WORK: give $WORK/...).
func reportFails(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: reportfails ARGS...")
	}
	var stderr strings.Builder
	code := verifycli.Main(args, strings.NewReader(""), failingWriter{}, &stderr)
	want := "nitro-verify: error: writing the report: no space left on device\n"
	if code != verifycli.ExitUsage || stderr.String() != want {
		ts.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, stderr.String(), want)
	}
}
