// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/cli"
)

// client builds the KMS client over the opened NSM.
func (a *app) client(nsm enclave.NSM) (*agent.Client, error) {
	// Checked at parse time already; again here, where the credentials
	// are used, so that no path to a client skips it.
	if err := a.g.check(); err != nil {
		return nil, err
	}
	log, err := a.logger()
	if err != nil {
		return nil, err
	}
	region := a.g.region
	if region == "" {
		region = a.getenv("AWS_REGION")
	}
	if region == "" {
		return nil, usagef("no region: give --region or set AWS_REGION")
	}
	for _, f := range []struct{ name, value string }{{"--proxy", a.g.proxy}, {"--credentials-endpoint", a.g.credEndpoint}} {
		if f.value != "" {
			if _, err := cli.ParseAddr(f.name, f.value); err != nil {
				return nil, err
			}
		}
	}
	if e := a.g.endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, cli.Usagef("--kms-endpoint %q: want https://HOST[:PORT]", e)
		}
	}
	if strings.HasPrefix(strings.ToLower(a.g.endpoint), "http://") && !a.g.insecureHTTP {
		return nil, cli.Usagef("--kms-endpoint %s is plain http: the parent instance could choose the data keys this enclave receives; "+
			"use https:// (with --kms-ca FILE for kms-server's CA), or add --insecure-http-unsafe for development only", a.g.endpoint)
	}
	if acct := a.g.kmsAccount; acct != "" && (len(acct) != 12 || strings.Trim(acct, "0123456789") != "") {
		return nil, cli.Usagef("--kms-account %q: want a 12-digit AWS account ID", acct)
	}
	var creds aws.CredentialsProvider = agent.EnvCredentials{Getenv: a.getenv}
	if a.g.credEndpoint != "" {
		creds = &agent.EndpointCredentials{Addr: a.g.credEndpoint, Path: a.g.credPath}
	} else if a.getenv("AWS_ACCESS_KEY_ID") == "" {
		return nil, usagef("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give --credentials-endpoint")
	}
	var tlsCfg *tls.Config
	if a.g.kmsCA != "" {
		pem, err := boundedfile.Read(a.g.kmsCA, maxPEMFile)
		if err != nil {
			return nil, cli.Usagef("--kms-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usagef("--kms-ca %s: no PEM certificate", a.g.kmsCA)
		}
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c, err := agent.New(&agent.Config{
		NSM: nsm, Region: region, Endpoint: a.g.endpoint, Proxy: a.g.proxy, TLS: tlsCfg, KMSAccount: a.g.kmsAccount,
		InsecureHTTPUnsafe: a.g.insecureHTTP, Credentials: creds, KeyRotation: a.g.keyRotation, Logger: log,
	})
	if err != nil {
		if errors.Is(err, agent.ErrConfig) {
			return nil, cli.Usage(err)
		}
		return nil, err
	}
	return c, nil
}

func (a *app) withClient(fn func(ctx context.Context, c *agent.Client) error) error {
	nsm, err := a.openNSM()
	if err != nil {
		return err
	}
	defer nsm.Close()
	c, err := a.client(nsm)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(a.ctx, c)
}

func (a *app) genkey(args []string) error {
	fs := a.flags("genkey")
	keyID := fs.String("key-id", "", "")
	keySpec := fs.String("key-spec", "", "")
	nbytes := fs.Int("bytes", 0, "")
	ctxFlag := kvFlag{}
	fs.Var(ctxFlag, "context", "")
	ctOut := fs.String("ciphertext-out", "", "")
	var o outputFlags
	o.register(fs)
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	if *keyID == "" {
		return usagef("genkey: --key-id is required")
	}
	if *keySpec != "" && *nbytes != 0 {
		return usagef("genkey: give --key-spec or --bytes, not both")
	}
	if *keySpec == "" && *nbytes == 0 {
		*keySpec = "AES_256"
	}
	if err := o.check("genkey"); err != nil {
		return err
	}
	if err := a.checkSecretStdout("genkey", "the Plaintext", &o); err != nil {
		return err
	}
	if o.format == "raw" && *ctOut == "" {
		return usagef("genkey: --format raw needs --ciphertext-out FILE for the CiphertextBlob")
	}
	in := &kms.GenerateDataKeyInput{KeyId: keyID}
	if *keySpec != "" {
		in.KeySpec = types.DataKeySpec(*keySpec)
	} else {
		in.NumberOfBytes = aws.Int32(int32(*nbytes))
	}
	if len(ctxFlag) > 0 {
		in.EncryptionContext = ctxFlag
	}
	return a.withClient(func(ctx context.Context, c *agent.Client) error {
		dk, err := c.GenerateDataKey(ctx, in)
		if err != nil {
			return err
		}
		defer clear(dk.Plaintext)
		if *ctOut != "" {
			if err := writeFile("--ciphertext-out", *ctOut, dk.CiphertextBlob, 0o600); err != nil {
				return err
			}
		}
		return a.emit(&o, map[string]string{"KeyId": dk.KeyID, "CiphertextBlob": b64(dk.CiphertextBlob), "Plaintext": b64(dk.Plaintext)}, dk.Plaintext)
	})
}

func (a *app) decrypt(args []string) error {
	fs := a.flags("decrypt")
	keyID := fs.String("key-id", "", "")
	ct := fs.String("ciphertext", "", "")
	ctFile := fs.String("ciphertext-file", "", "")
	alg := fs.String("encryption-algorithm", "", "")
	ctxFlag := kvFlag{}
	fs.Var(ctxFlag, "context", "")
	var o outputFlags
	o.register(fs)
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	if (*ct == "") == (*ctFile == "") {
		return usagef("decrypt: give exactly one of --ciphertext BASE64 and --ciphertext-file FILE")
	}
	if *keyID == "" {
		// The library refuses it too (agent.KeyIDRequiredError); refused
		// here as a usage error, before the NSM is opened.
		return cli.WithHint(usagef("decrypt: --key-id is required: the parent instance can replace a stored CiphertextBlob "+
			"with one under another key it may use, whose plaintext it knows, and without --key-id KMS decrypts it"),
			"give --key-id KEY_ARN, the key that encrypted the blob, from the enclave's image or configuration, not stored beside the blob "+
				"(an alias/NAME is only as fixed as the permission to move it, kms:UpdateAlias)")
	}
	if err := o.check("decrypt"); err != nil {
		return err
	}
	if err := a.checkSecretStdout("decrypt", "the Plaintext", &o); err != nil {
		return err
	}
	var blob []byte
	var err error
	if *ct != "" {
		if blob, err = base64.StdEncoding.DecodeString(*ct); err != nil {
			return usagef("decrypt: --ciphertext: not base64")
		}
	} else {
		if blob, err = boundedfile.Read(*ctFile, maxCiphertextFile); err != nil {
			return cli.Usagef("decrypt: --ciphertext-file: %v", err)
		}
	}
	in := &kms.DecryptInput{CiphertextBlob: blob, KeyId: keyID}
	if *alg != "" {
		in.EncryptionAlgorithm = types.EncryptionAlgorithmSpec(*alg)
	}
	if len(ctxFlag) > 0 {
		in.EncryptionContext = ctxFlag
	}
	return a.withClient(func(ctx context.Context, c *agent.Client) error {
		d, err := c.Decrypt(ctx, in)
		if err != nil {
			return err
		}
		defer clear(d.Plaintext)
		return a.emit(&o, map[string]string{"KeyId": d.KeyID, "EncryptionAlgorithm": d.EncryptionAlgorithm, "Plaintext": b64(d.Plaintext)}, d.Plaintext)
	})
}

func (a *app) genrandom(args []string) error {
	fs := a.flags("genrandom")
	n := fs.Int("length", 32, "")
	var o outputFlags
	o.register(fs)
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	if *n < 1 || *n > 1024 {
		return usagef("genrandom: --length %d: want 1 to 1024", *n)
	}
	if err := o.check("genrandom"); err != nil {
		return err
	}
	if err := a.checkSecretStdout("genrandom", "the Plaintext", &o); err != nil {
		return err
	}
	return a.withClient(func(ctx context.Context, c *agent.Client) error {
		r, err := c.GenerateRandom(ctx, *n)
		if err != nil {
			return err
		}
		defer clear(r)
		return a.emit(&o, map[string]string{"Plaintext": b64(r)}, r)
	})
}

// Bounds on the files kms commands read.
const (
	// maxPEMFile bounds --kms-ca: a PEM bundle of a few CA certificates.
	maxPEMFile = boundedfile.MiB
	// maxCiphertextFile bounds --ciphertext-file: a KMS ciphertext blob is
	// at most 6144 bytes.
	maxCiphertextFile = 64 * boundedfile.KiB
)
