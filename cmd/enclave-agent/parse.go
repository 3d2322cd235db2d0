// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/internal/cli"
)

func usagef(format string, args ...any) error { return cli.Usagef(format, args...) }

// globals are the flags every command accepts, before or after its name.
type globals struct {
	nsm, emulatorState, emulatorRootOut, measurements string
	pcr0, pcr1, pcr2                                  string
	pcrs                                              pcrFlag
	debugMode                                         bool
	region, endpoint, proxy, kmsCA, kmsAccount        string
	insecureHTTP                                      bool
	credEndpoint, credPath                            string
	keyRotation                                       time.Duration
	logLevel                                          string
	version                                           bool
}

// check refuses values and combinations of global flags that no command
// may run with, once every flag is parsed: a negative --key-rotation or one
// below agent.MinKeyRotation, and --credentials-endpoint without
// --kms-account.
//
// The parent instance serves --credentials-endpoint, and it is an attacker
// here: it could hand in credentials for an account of its own, where
// alias/NAME and bare key IDs name keys it can Decrypt with. A key ARN pins
// the account of one request, but the local KMS endpoint (--kms-listen)
// takes key IDs from the application at request time, and an alias or a
// bare key ID resolves in the credentials' account, so no start-up look at
// --key-id can stand in for the account: the rule is whole, with no escape
// hatch (kms-server has an account too, its account_id).
func (g *globals) check() error {
	const rotationHint = "--key-rotation DUR replaces the recipient RSA key at its first use DUR after it was made " +
		"(at least 1m; the default is 1h; 0 is the default); a key that never rotates is not offered"
	if g.keyRotation < 0 {
		// The library reads a negative period as "never rotate": a
		// weaker key lifetime no one should get by a sign slip.
		return cli.WithHint(usagef("--key-rotation %v: must not be negative", g.keyRotation), rotationHint)
	}
	if g.keyRotation > 0 && g.keyRotation < agent.MinKeyRotation {
		// agent.New refuses it too (KeyRotationError); refused here
		// before anything runs, for commands that make no RSA key.
		return cli.WithHint(usagef("--key-rotation %v: below the minimum, %v: each rotation generates an RSA key (about 100 ms of CPU), "+
			"so nearly every request would wait for one", g.keyRotation, agent.MinKeyRotation), rotationHint)
	}
	if g.credEndpoint != "" && g.kmsAccount == "" {
		return cli.WithHint(usagef("--credentials-endpoint without --kms-account: the parent instance supplies these credentials, "+
			"so alias/NAME and bare key IDs resolve in an account of its choosing"),
			"add --kms-account ACCOUNT_ID, the 12-digit account that holds the enclave's keys (kms-server: its account_id): "+
				"KMS answers naming a key outside it are then refused")
	}
	return nil
}

// pcrFlag collects --pcr N=HEX (emulator boot PCRs 0-15).
type pcrFlag map[int]string

func (p pcrFlag) String() string { return "" }
func (p pcrFlag) Set(s string) error {
	n, v, ok := strings.Cut(s, "=")
	if !ok {
		return errors.New("want N=HEX")
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i > 15 {
		return fmt.Errorf("PCR index %q: want 0-15", n)
	}
	p[i] = v
	return nil
}

// kvFlag collects --context KEY=VALUE.
type kvFlag map[string]string

func (k kvFlag) String() string { return "" }
func (k kvFlag) Set(s string) error {
	key, v, ok := strings.Cut(s, "=")
	if !ok || key == "" {
		return errors.New("want KEY=VALUE")
	}
	k[key] = v
	return nil
}

// register adds the global flags to fs.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.nsm, "nsm", g.nsm, "")
	fs.StringVar(&g.emulatorState, "emulator-state", g.emulatorState, "")
	fs.StringVar(&g.emulatorRootOut, "emulator-root-out", g.emulatorRootOut, "")
	fs.StringVar(&g.measurements, "image-measurements", g.measurements, "")
	fs.StringVar(&g.pcr0, "pcr0", g.pcr0, "")
	fs.StringVar(&g.pcr1, "pcr1", g.pcr1, "")
	fs.StringVar(&g.pcr2, "pcr2", g.pcr2, "")
	fs.Var(g.pcrs, "pcr", "")
	fs.BoolVar(&g.debugMode, "debug-mode", g.debugMode, "")
	fs.StringVar(&g.region, "region", g.region, "")
	fs.StringVar(&g.endpoint, "kms-endpoint", g.endpoint, "")
	fs.StringVar(&g.proxy, "proxy", g.proxy, "")
	fs.StringVar(&g.kmsCA, "kms-ca", g.kmsCA, "")
	fs.StringVar(&g.kmsAccount, "kms-account", g.kmsAccount, "")
	fs.BoolVar(&g.insecureHTTP, "insecure-http-unsafe", g.insecureHTTP, "")
	fs.StringVar(&g.credEndpoint, "credentials-endpoint", g.credEndpoint, "")
	fs.StringVar(&g.credPath, "credentials-path", g.credPath, "")
	fs.DurationVar(&g.keyRotation, "key-rotation", g.keyRotation, "")
	fs.StringVar(&g.logLevel, "log-level", g.logLevel, "")
	fs.BoolVar(&g.version, "version", g.version, "")
}

// flags makes a subcommand flag set that also accepts the global flags.
func (a *app) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	a.g.register(fs)
	return fs
}

// parse parses args with fs, allowing flags after positional arguments
// ("pcr extend 16 --data HEX"); the positional arguments are returned.
// Help and the version win over every other check: -h, --help, --version
// among the flags, and help or version as the first positional argument
// ("attest help"). A flag's error names the flag, and its hint the
// command's help (fs's name: "run enclave-agent attest --help").
func (a *app) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := cli.ParseFlags(fs, args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, cli.WithHint(err, a.p.UsageHint(fs.Name()))
		}
		if fs.NArg() == 0 {
			if err := cli.HelpArg(pos); err != nil {
				return nil, err
			}
			if a.g.version {
				return nil, errVersion
			}
			if err := a.g.check(); err != nil {
				return nil, err
			}
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseTop parses the flags before the first positional argument: the
// global flags before the command, or init's before the application. The
// positional arguments are returned. Help and the version are answered as
// in parse, except that "init -- help" names an application.
func (a *app) parseTop(fs *flag.FlagSet, args []string) ([]string, error) {
	cmd := fs.Name() // the top level's flag set is named after the program
	if cmd == a.p.Name {
		cmd = ""
	}
	if err := cli.ParseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, cli.WithHint(err, a.p.UsageHint(cmd))
	}
	rest := fs.Args()
	if i := len(args) - len(rest); i == 0 || args[i-1] != "--" {
		if err := cli.HelpArg(rest); err != nil {
			return nil, err
		}
	}
	if a.g.version {
		return nil, errVersion
	}
	return rest, nil
}

// noArgs parses args and refuses positional arguments.
func (a *app) noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return cli.WithHint(usagef("%s: unexpected argument %q", fs.Name(), pos[0]), a.p.UsageHint(fs.Name()))
	}
	return nil
}

func decodeHexFlag(name, s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, usagef("--%s: not hex", name)
	}
	return b, nil
}
