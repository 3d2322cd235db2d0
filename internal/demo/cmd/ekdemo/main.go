// SPDX-License-Identifier: Apache-2.0

// Command ekdemo is the helper of scripts/demo.sh: what a key administrator
// and an observer on the parent instance would do with other tools (the aws
// CLI, curl), written in Go so that the demo needs nothing but Go.
//
//	ekdemo create-key --endpoint URL [--ca FILE] --image-sha384 HEX --admin-arn ARN --enclave-arn ARN [--alias alias/NAME] [--policy-out FILE]
//	ekdemo tap --listen ADDR --to ADDR --log FILE [--addr-file FILE]
//	ekdemo fetch-attestation --url URL [--nonce HEX] --out FILE
//	ekdemo fingerprint FILE
//
// create-key takes the administrator's credentials from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_REGION and prints the new key's ID.
package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/enclavekit/enclavekit/internal/demo"
	"github.com/enclavekit/enclavekit/internal/transport"
)

const usage = `usage:
  ekdemo create-key --endpoint URL [--ca FILE] --image-sha384 HEX --admin-arn ARN --enclave-arn ARN [--alias alias/NAME] [--policy-out FILE]
  ekdemo tap --listen ADDR --to ADDR --log FILE [--addr-file FILE]
  ekdemo fetch-attestation --url URL [--nonce HEX] --out FILE
  ekdemo fingerprint FILE
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "create-key":
		err = createKey(ctx, os.Args[2:])
	case "tap":
		err = tap(ctx, os.Args[2:])
	case "fetch-attestation":
		err = fetchAttestation(ctx, os.Args[2:])
	case "fingerprint":
		err = fingerprint(os.Args[2:])
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ekdemo: error: %v\n", err)
		os.Exit(1)
	}
}

func parse(fs *flag.FlagSet, args []string) {
	fs.SetOutput(os.Stderr)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	if fs.Parse(args) != nil || fs.NArg() != 0 {
		fs.Usage()
		os.Exit(2)
	}
}

func createKey(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("create-key", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "")
	caFile := fs.String("ca", "", "")
	image := fs.String("image-sha384", "", "")
	adminARN := fs.String("admin-arn", "", "")
	enclaveARN := fs.String("enclave-arn", "", "")
	alias := fs.String("alias", "", "")
	policyOut := fs.String("policy-out", "", "")
	parse(fs, args)
	id, secret, region := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_REGION")
	if id == "" || secret == "" || region == "" {
		return errors.New("set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION")
	}
	policy, err := demo.KeyPolicy(*adminARN, *enclaveARN, *image)
	if err != nil {
		return err
	}
	if *policyOut != "" {
		if err := os.WriteFile(*policyOut, append(policy, '\n'), 0o644); err != nil {
			return err
		}
	}
	var roots *x509.CertPool
	if *caFile != "" {
		if roots, err = demo.LoadCA(*caFile); err != nil {
			return err
		}
	}
	keyID, err := demo.CreatePinnedKey(ctx, demo.NewClient(*endpoint, region, id, secret, roots), policy, *alias, "enclavekit demo key")
	if err != nil {
		return err
	}
	fmt.Println(keyID)
	return nil
}

func tap(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tap", flag.ContinueOnError)
	listen := fs.String("listen", "", "")
	to := fs.String("to", "", "")
	logFile := fs.String("log", "", "")
	addrFile := fs.String("addr-file", "", "")
	parse(fs, args)
	la, err := transport.ParseAddr(*listen)
	if err != nil {
		return err
	}
	target, err := transport.ParseAddr(*to)
	if err != nil {
		return err
	}
	lf, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close()
	ln, err := transport.Listen(la)
	if err != nil {
		return err
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
			return err
		}
	}
	// A byte relay, as the parent relays the enclave's traffic: over TLS it
	// sees record sizes, nothing of the KMS exchange.
	return (&demo.RelayTap{Target: target, Log: lf}).Serve(ctx, ln)
}

func fetchAttestation(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fetch-attestation", flag.ContinueOnError)
	url := fs.String("url", "", "")
	nonce := fs.String("nonce", "", "")
	out := fs.String("out", "", "")
	parse(fs, args)
	body, _ := json.Marshal(map[string]string{"nonce": *nonce})
	if *nonce == "" {
		body = []byte("{}")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	doc, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", *url, resp.Status, bytes.TrimSpace(doc))
	}
	fmt.Fprintf(os.Stderr, "%s %s: %s, %d bytes\n", req.Method, *url, resp.Header.Get("Content-Type"), len(doc))
	return os.WriteFile(*out, doc, 0o644)
}

func fingerprint(args []string) error {
	if len(args) != 1 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	fmt.Printf("%s (%d bytes)\n", demo.Fingerprint(b), len(b))
	return nil
}
