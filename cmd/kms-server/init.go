// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
	"github.com/enclavekit/enclavekit/internal/cli"
)

// runInit is "kms-server init": it writes the starter configuration and
// prints the development access key to stdout, once. Like the top level,
// it takes -h, --help and help (cli.ErrHelp: the full help) and --version
// and version (cli.ErrVersion).
func runInit(p *cli.Program, args []string) error {
	stdout, stderr := p.Stdout, p.Stderr
	flags := flag.NewFlagSet("kms-server init", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.Usage = func() {}
	dir := flags.String("dir", "", "")
	version := flags.Bool("version", false, "")
	if err := cli.ParseFlags(flags, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.ErrHelp
		}
		return cli.WithHint(err, p.UsageHint("init"))
	}
	if *version {
		return cli.ErrVersion
	}
	// "init help", as "init --help" (init takes no arguments, so the word
	// cannot name anything else).
	if err := cli.HelpArg(flags.Args()); err != nil {
		return err
	}
	if flags.NArg() != 0 {
		return cli.WithHint(cli.Usagef("init: unexpected argument %q (give the directory with --dir DIR)", flags.Arg(0)), p.UsageHint("init"))
	}
	if *dir == "" {
		// Without --dir, only an empty current directory: init must not
		// scatter a root key among someone's files.
		empty, err := isEmptyDir(".")
		if err != nil {
			return err
		}
		if !empty {
			wd, _ := os.Getwd()
			return cli.WithHint(fmt.Errorf("init: the current directory %s is not empty; not writing kms-server.yaml, root.key and keys/ into it", wd),
				"give a new or empty directory with kms-server init --dir DIR")
		}
		*dir = "."
	}
	st, err := kmsconfig.WriteStarter(*dir, nil)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return cli.WithHint(fmt.Errorf("init: %w", err), "give a new or empty directory with kms-server init --dir DIR")
		}
		return err
	}
	fmt.Fprintf(stdout, "# The development access key of %s, printed this once.\nexport AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\n",
		st.Principal, st.AccessKeyID, st.Secret)
	fmt.Fprintf(stderr, `kms-server: wrote %s (mode 0600: it holds the secret access key)
kms-server:       %s (the root key: keep it secret and backed up; without it every key in the store is lost)
kms-server:       %s (the key store)
kms-server:       %s (the development CA that clients trust; its key is not kept)
kms-server: warning: the secret access key above is shown once; keep it like a password
start:  kms-server --config %s
try:    AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=... \
          aws kms create-key --region us-east-1 --endpoint-url https://%s --ca-bundle %s
`, st.ConfigPath, st.RootKeyPath, st.KeyStoreDir, st.TLSCAPath, st.ConfigPath, st.AccessKeyID, st.Listen, st.TLSCAPath)
	return nil
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return len(names) == 0, nil
}
