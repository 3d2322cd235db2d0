// SPDX-License-Identifier: Apache-2.0

package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/internal/cli"
)

// serve is "enclave-agent serve": the attestation endpoint, after an
// optional data key fetched at start.
func (a *app) serve(args []string) error {
	fs := a.flags("serve")
	listen := fs.String("listen", "", "")
	keyID := fs.String("key-id", "", "")
	keySpec := fs.String("key-spec", "AES_256", "")
	attestedListen := fs.String("attested-listen", "", "")
	upstream := fs.String("upstream", "", "")
	kmsListen := fs.String("kms-listen", "", "")
	maxAttest := fs.Int("max-concurrent-attestations", agent.DefaultEndpointMaxConcurrent, "")
	hsRate := fs.Int("attested-handshake-rate", 0, "")
	keyWait := fs.Duration("key-wait", defaultKeyWait, "")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	keyWaitGiven := false
	fs.Visit(func(f *flag.Flag) { keyWaitGiven = keyWaitGiven || f.Name == "key-wait" })
	if err := checkKeyWait(*keyWait, keyWaitGiven, *keyID); err != nil {
		return err
	}
	if *listen == "" {
		return usagef("serve: --listen ADDR is required (vsock://any:5000, tcp://127.0.0.1:5000, unix:///run/agent.sock)")
	}
	if _, err := cli.ParseAddr("serve: --listen", *listen); err != nil {
		return err
	}
	if err := checkMaxAttest("serve", *maxAttest); err != nil {
		return err
	}
	if *attestedListen != "" {
		if _, err := cli.ParseAddr("serve: --attested-listen", *attestedListen); err != nil {
			return err
		}
	}
	if err := checkHandshakeRate(*hsRate, *attestedListen); err != nil {
		return err
	}
	nsm, err := a.openNSM()
	if err != nil {
		return err
	}
	defer nsm.Close()
	log := a.log
	ctx := a.ctx

	var dataKey *agent.DataKey
	if *keyID != "" {
		c, err := a.client(nsm)
		if err != nil {
			return err
		}
		defer c.Close()
		dataKey, err = fetchDataKey(ctx, log, a.clock, rand.Float64, *keyWait, func(ctx context.Context) (*agent.DataKey, error) {
			return c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: keyID, KeySpec: types.DataKeySpec(*keySpec)})
		})
		if err != nil {
			return err
		}
		defer clear(dataKey.Plaintext)
		log.Info("data key fetched with Recipient", slog.String("key_id", dataKey.KeyID),
			slog.Int("plaintext_bytes", len(dataKey.Plaintext)), slog.Int("ciphertext_blob_bytes", len(dataKey.CiphertextBlob)))
	}
	kind := a.g.nsm
	epCfg := &agent.EndpointConfig{NSM: nsm, Kind: kind, MaxConcurrent: *maxAttest, Logger: log}
	h, err := agent.NewEndpoint(epCfg)
	if err != nil {
		return err
	}
	ctx, waitAttested, err := a.startAttested(ctx, nsm, *attestedListen, *upstream, *hsRate)
	if err != nil {
		if errors.Is(err, agent.ErrConfig) {
			return cli.Usage(err)
		}
		return err
	}
	ctx, waitKMS, _, err := a.startKMSEndpoint(ctx, "serve", nsm, *kmsListen)
	if err != nil {
		_ = waitAttested()
		return err
	}
	err = agent.Serve(ctx, *listen, h, endpointListening(log, *listen, epCfg))
	if kerr := waitKMS(); err == nil {
		err = kerr
	}
	if aerr := waitAttested(); err == nil {
		err = aerr
	}
	if err == nil {
		log.Info("attestation endpoint stopped")
	}
	return err
}

// checkKeyWait refuses a negative --key-wait, and one given without
// --key-id (it bounds nothing else), as usage errors with a hint.
func checkKeyWait(d time.Duration, given bool, keyID string) error {
	hint := fmt.Sprintf("--key-wait DURATION retries the data key fetched at start (--key-id) for that long, "+
		"while KMS answers that the key or its permission is not there yet or cannot be reached (default %v; 0 asks once)", defaultKeyWait)
	switch {
	case d < 0:
		return cli.WithHint(usagef("serve: --key-wait %v: must not be negative", d), hint)
	case given && keyID == "":
		return cli.WithHint(usagef("serve: --key-wait is given without --key-id"), hint)
	}
	return nil
}

// checkMaxAttest refuses a negative --max-concurrent-attestations for cmd
// (serve or init) as a usage error with a hint.
func checkMaxAttest(cmd string, n int) error {
	if n >= 0 {
		return nil
	}
	return cli.WithHint(usagef("%s: --max-concurrent-attestations %d: must not be negative", cmd, n),
		fmt.Sprintf("--max-concurrent-attestations bounds the NSM requests the attestation endpoint serves at once (more get 503 busy); the default is %d", agent.DefaultEndpointMaxConcurrent))
}

// endpointListening returns the attestation endpoint's start-line logger,
// which reports the bound actually in force.
func endpointListening(log *slog.Logger, listen string, cfg *agent.EndpointConfig) func(net.Addr) {
	return func(addr net.Addr) {
		log.Info("attestation endpoint listening", slog.String("addr", listen), slog.String("local", addr.String()),
			slog.Int("max_concurrent", cmp.Or(cfg.MaxConcurrent, agent.DefaultEndpointMaxConcurrent)))
	}
}

// checkHandshakeRate refuses a negative --attested-handshake-rate, and one
// given without --attested-listen (it bounds nothing else), as usage
// errors with a hint.
func checkHandshakeRate(n int, attestedListen string) error {
	hint := fmt.Sprintf("--attested-handshake-rate N lets the attested TLS listener start N handshakes a second, after a burst of N (the default is %d): connections beyond it wait, unaccepted; each handshake costs the enclave up to 1 ms of CPU, whichever key exchange the parent offers", agent.DefaultAttestedMaxHandshakeRate)
	switch {
	case n < 0:
		return cli.WithHint(usagef("serve: --attested-handshake-rate %d: must not be negative", n), hint)
	case n > 0 && attestedListen == "":
		return cli.WithHint(usagef("serve: --attested-handshake-rate is given without --attested-listen"), hint)
	}
	return nil
}
