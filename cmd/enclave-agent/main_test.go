// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/enclavekit/enclavekit/internal/clitest"
	"github.com/enclavekit/enclavekit/internal/verifycli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"enclave-agent": main,
		"nitro-verify":  func() { os.Exit(verifycli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in testdata/script: stdout, stderr and
// exit status of every offline command and failure class.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/script",
		Cmds: clitest.Cmds(),
		Condition: func(cond string) (bool, error) {
			if cond == "nsmdevice" {
				_, err := os.Stat("/dev/nsm")
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("AWS_ACCESS_KEY_ID", "")
			env.Setenv("AWS_REGION", "")
			// An image measurement and another one (48 bytes each, hex).
			env.Setenv("PCR0", "8f0d145c0368ad6b70be22e41c400eea91b971d96ba220fec9fae25a58dffdaaf72dbe8f6783d55128c9df4efaf6f8a7")
			env.Setenv("OTHER", "b1c16eb7634112b7c9d5ebd27e62a2d4528bbfcfd68b62d3afd9ecf98e0f413a84314acce78317fb69fd895155343e09")
			return nil
		},
	})
}
