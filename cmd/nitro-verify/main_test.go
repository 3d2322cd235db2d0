// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
	"github.com/enclavekit/enclavekit/internal/clitest"
	"github.com/enclavekit/enclavekit/internal/verifycli"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary run as nitro-verify inside the scripts, as
// a user would run the built binary.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"nitro-verify": func() { os.Exit(verifycli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// cmds are the script commands beyond testscript's own: clitest's exits,
// and
//
//	encode hex|base64|base64url SRC DST   write SRC in that encoding to DST
var cmds = clitest.With(map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"encode": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 3 {
			ts.Fatalf("usage: encode hex|base64|base64url SRC DST")
		}
		b, err := os.ReadFile(ts.MkAbs(args[1]))
		ts.Check(err)
		var s string
		switch args[0] {
		case "hex":
			s = hex.EncodeToString(b)
		case "base64":
			s = base64.StdEncoding.EncodeToString(b)
		case "base64url":
			s = base64.RawURLEncoding.EncodeToString(b)
		default:
			ts.Fatalf("encode: unknown encoding %q", args[0])
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(s+"\n"), 0o644))
	},
})

func vectorsDir(t *testing.T) string {
	d, err := filepath.Abs(filepath.Join("..", "..", "testvectors"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestScript runs testdata/script/*.txtar against the generated vectors
// ($VECTORS).
func TestScript(t *testing.T) {
	vec := vectorsDir(t)
	testscript.Run(t, testscript.Params{
		Dir:  filepath.Join("testdata", "script"),
		Cmds: cmds,
		Setup: func(e *testscript.Env) error {
			e.Setenv("VECTORS", vec)
			return nil
		},
	})
}

// TestScriptReal runs testdata/real/*.txtar against the real AWS documents
// in testvectors/aws ($REAL); a missing folder fails the test.
func TestScriptReal(t *testing.T) {
	real := awsvectors.Path(t, "attestation")
	vec := vectorsDir(t)
	testscript.Run(t, testscript.Params{
		Dir:  filepath.Join("testdata", "real"),
		Cmds: cmds,
		Setup: func(e *testscript.Env) error {
			e.Setenv("REAL", real)
			e.Setenv("VECTORS", vec)
			return nil
		},
	})
}
