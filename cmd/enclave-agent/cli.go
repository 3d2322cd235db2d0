// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/enclave/emulator"
	"github.com/enclavekit/enclavekit/internal/nitroca"
)

const usage = `usage: enclave-agent [global flags] COMMAND [flags]

Runs inside a Nitro Enclave: attestation documents from the NSM, keys from
KMS (or kms-server) delivered with Recipient, an attestation endpoint.

Commands:
  serve        --listen ADDR [--key-id ID [--key-spec AES_256]]
               serve POST /v1/attestation and GET /v1/health on ADDR; with
               --key-id, fetch a data key at start (kept in memory)
               [--attested-listen ADDR --upstream http://127.0.0.1:PORT]
               also serve attested TLS on ADDR: the attestation challenge
               and a reverse proxy to the application (nitro-verify --connect)
  attest       [--nonce HEX] [--user-data HEX] [--public-key HEX]
               [--format raw|base64|hex] [--out FILE]
               print an attestation document (raw CBOR by default)
  genkey       --key-id ID [--key-spec AES_256 (default)|AES_128 | --bytes N]
               [--context K=V]... [--format json|raw] [--out FILE]
               [--ciphertext-out FILE]
               GenerateDataKey with Recipient
  decrypt      (--ciphertext BASE64 | --ciphertext-file FILE) [--key-id ID]
               [--context K=V]... [--encryption-algorithm ALG]
               [--format json|raw] [--out FILE]
               Decrypt with Recipient
  genrandom    --length N [--format json|raw] [--out FILE]
               GenerateRandom with Recipient
  pcr describe N | pcr extend N (--data HEX | --data-file FILE) |
  pcr lock N | pcr lock-range N
               read, extend and lock PCRs (16-31 are the application's)
  describe-nsm print the NSM description as JSON
  emulator-root --emulator-state DIR [--out FILE]
               write the emulator's root certificate (PEM; created in DIR
               on first use) for verifiers: nitro-verify --root FILE
  help         this text

Global flags (accepted before or after the command):
  --nsm device|emulator     the NSM to use (default device: /dev/nsm)
  --emulator-state DIR      keep the emulator's root CA (root.pem, root.key) and
                            PCR bank (pcrs.json, shared by every process using
                            DIR, like one enclave's NSM) in DIR
  --emulator-root-out FILE  write the emulator's root certificate to FILE at start
  --image-measurements FILE emulator PCRs from nitro-cli describe-eif/build-enclave JSON
  --pcr0 HEX, --pcr1 HEX, --pcr2 HEX, --pcr N=HEX (repeatable)
                            emulator boot PCRs (0-15)
  --debug-mode              emulator: a debug-mode enclave (PCR0-PCR2 zero)
  --region REGION           KMS region (default $AWS_REGION)
  --kms-endpoint URL        KMS base URL (default https://kms.REGION.amazonaws.com;
                            kms-server: https://HOST:PORT, or http://HOST:PORT
                            with --insecure-http-unsafe)
  --insecure-http-unsafe    allow an http:// KMS endpoint. Unsafe: without TLS
                            the parent instance can choose the data keys this
                            enclave receives. Development only.
  --proxy ADDR              dial every KMS connection to ADDR: vsock://3:8000,
                            tcp://HOST:PORT or unix:///PATH (TLS stays end to end)
  --kms-ca FILE             PEM roots for an https endpoint (default: system roots)
  --credentials-endpoint ADDR
                            fetch credentials from the host-proxy's credentials
                            route at ADDR (vsock://3:8003, unix://..., tcp://...);
                            without it: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
                            AWS_SESSION_TOKEN from the environment
  --credentials-path PATH   HTTP path there (default /credentials)
  --key-rotation DUR        replace the recipient RSA key this often (default 1h)
  --log-level LEVEL         debug, info, warn, error (default info)
  --version                 print the version

JSON output holds base64 blobs: {"KeyId","CiphertextBlob","Plaintext"} for
genkey, {"KeyId","EncryptionAlgorithm","Plaintext"} for decrypt,
{"Plaintext"} for genrandom; --format raw writes the plaintext bytes to --out
(and genkey the CiphertextBlob to --ciphertext-out). Credentials are never
taken from flags. Output files are written with mode 0600 (the emulator root
with --emulator-root-out: 0644). Exit status: 0 success, 1 the operation
failed, 2 usage error.
`

type globals struct {
	nsm, emulatorState, emulatorRootOut, measurements string
	pcr0, pcr1, pcr2                                  string
	pcrs                                              pcrFlag
	debugMode                                         bool
	region, endpoint, proxy, kmsCA                    string
	insecureHTTP                                      bool
	credEndpoint, credPath                            string
	keyRotation                                       time.Duration
	logLevel                                          string
	version                                           bool
}

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
	fs.BoolVar(&g.insecureHTTP, "insecure-http-unsafe", g.insecureHTTP, "")
	fs.StringVar(&g.credEndpoint, "credentials-endpoint", g.credEndpoint, "")
	fs.StringVar(&g.credPath, "credentials-path", g.credPath, "")
	fs.DurationVar(&g.keyRotation, "key-rotation", g.keyRotation, "")
	fs.StringVar(&g.logLevel, "log-level", g.logLevel, "")
	fs.BoolVar(&g.version, "version", g.version, "")
}

// app is one invocation.
type app struct {
	ctx    context.Context // cancelled on SIGINT/SIGTERM
	g      globals
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	log    *slog.Logger
}

// usageError is a command-line mistake: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	a.g = globals{nsm: "device", pcrs: pcrFlag{}, logLevel: "info"}
	top := flag.NewFlagSet("enclave-agent", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	top.Usage = func() {}
	a.g.register(top)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		return a.fail(usagef("%v", err))
	}
	if a.g.version {
		fmt.Fprintln(stdout, "enclave-agent", version())
		return 0
	}
	rest := top.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, cargs := rest[0], rest[1:]
	var err error
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve":
		err = a.serve(cargs)
	case "attest":
		err = a.attest(cargs)
	case "genkey":
		err = a.genkey(cargs)
	case "decrypt":
		err = a.decrypt(cargs)
	case "genrandom":
		err = a.genrandom(cargs)
	case "pcr":
		err = a.pcr(cargs)
	case "describe-nsm":
		err = a.describeNSM(cargs)
	case "emulator-root":
		err = a.emulatorRoot(cargs)
	default:
		err = usagef("unknown command %q (run enclave-agent help)", cmd)
	}
	if err != nil {
		return a.fail(err)
	}
	return 0
}

func (a *app) fail(err error) int {
	fmt.Fprintf(a.stderr, "enclave-agent: error: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(a.stderr, "hint: run enclave-agent help")
		return 2
	}
	if errors.Is(err, enclave.ErrNoDevice) {
		fmt.Fprintln(a.stderr, "hint: --nsm emulator --debug-mode (or --pcr0 HEX) for development")
	}
	return 1
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
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
func (a *app) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usagef("%s: see enclave-agent help", fs.Name())
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// noArgs parses args and refuses positional arguments.
func (a *app) noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), pos[0])
	}
	return nil
}

func (a *app) logger() (*slog.Logger, error) {
	if a.log != nil {
		return a.log, nil
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.g.logLevel)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", a.g.logLevel)
	}
	a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
	return a.log, nil
}

// openNSM opens the device or starts the emulator, as --nsm says.
func (a *app) openNSM() (enclave.NSM, error) {
	log, err := a.logger()
	if err != nil {
		return nil, err
	}
	switch a.g.nsm {
	case "device":
		if a.g.emulatorState != "" || a.g.emulatorRootOut != "" || a.g.measurements != "" || a.g.debugMode ||
			a.g.pcr0 != "" || a.g.pcr1 != "" || a.g.pcr2 != "" || len(a.g.pcrs) > 0 {
			return nil, usagef("emulator flags given with --nsm device: add --nsm emulator")
		}
		d, err := enclave.OpenDevice()
		if err != nil {
			return nil, err
		}
		return d, nil
	case "emulator":
	default:
		return nil, usagef("--nsm %q: want device or emulator", a.g.nsm)
	}
	pcrs := map[int][]byte{}
	if a.g.measurements != "" {
		b, err := os.ReadFile(a.g.measurements)
		if err != nil {
			return nil, err
		}
		if pcrs, err = emulator.ParseMeasurements(b); err != nil {
			return nil, err
		}
	}
	set := func(i int, s string) error {
		v, err := emulator.ParsePCRHex(s)
		if err != nil {
			return usagef("PCR%d: %v", i, err)
		}
		pcrs[i] = v
		return nil
	}
	for i, s := range map[int]string{0: a.g.pcr0, 1: a.g.pcr1, 2: a.g.pcr2} {
		if s != "" {
			if err := set(i, s); err != nil {
				return nil, err
			}
		}
	}
	for i, s := range a.g.pcrs {
		if err := set(i, s); err != nil {
			return nil, err
		}
	}
	emu, err := emulator.New(&emulator.Config{
		PCRs: pcrs, Debug: a.g.debugMode, StateDir: a.g.emulatorState, Region: a.g.region, Logger: log,
	})
	if err != nil {
		if errors.Is(err, emulator.ErrConfig) {
			return nil, &usageError{err.Error()}
		}
		return nil, err
	}
	if a.g.emulatorRootOut != "" {
		if err := writeFile(a.g.emulatorRootOut, emu.RootPEM(), 0o644); err != nil {
			return nil, err
		}
		log.Info("wrote the emulator root certificate", slog.String("file", a.g.emulatorRootOut))
	}
	return emu, nil
}

// writeFile writes data to name through a temporary file renamed into
// place, with mode perm.
func writeFile(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".enclave-agent-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err = f.Chmod(perm); err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	return err
}

// client builds the KMS client over the opened NSM.
func (a *app) client(nsm enclave.NSM) (*agent.Client, error) {
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
	var creds aws.CredentialsProvider = agent.EnvCredentials{Getenv: a.getenv}
	if a.g.credEndpoint != "" {
		creds = &agent.EndpointCredentials{Addr: a.g.credEndpoint, Path: a.g.credPath}
	} else if a.getenv("AWS_ACCESS_KEY_ID") == "" {
		return nil, usagef("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give --credentials-endpoint")
	}
	var tlsCfg *tls.Config
	if a.g.kmsCA != "" {
		pem, err := os.ReadFile(a.g.kmsCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usagef("--kms-ca %s: no PEM certificate", a.g.kmsCA)
		}
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c, err := agent.New(&agent.Config{
		NSM: nsm, Region: region, Endpoint: a.g.endpoint, Proxy: a.g.proxy, TLS: tlsCfg,
		InsecureHTTPUnsafe: a.g.insecureHTTP, Credentials: creds, KeyRotation: a.g.keyRotation, Logger: log,
	})
	if err != nil {
		if errors.Is(err, agent.ErrConfig) {
			return nil, &usageError{err.Error()}
		}
		return nil, err
	}
	return c, nil
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

// --- attest ---

func (a *app) attest(args []string) error {
	fs := a.flags("attest")
	nonce := fs.String("nonce", "", "")
	userData := fs.String("user-data", "", "")
	publicKey := fs.String("public-key", "", "")
	format := fs.String("format", "raw", "")
	out := fs.String("out", "", "")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	n, err := decodeHexFlag("nonce", *nonce)
	if err != nil {
		return err
	}
	u, err := decodeHexFlag("user-data", *userData)
	if err != nil {
		return err
	}
	p, err := decodeHexFlag("public-key", *publicKey)
	if err != nil {
		return err
	}
	var enc func([]byte) []byte
	switch *format {
	case "raw":
		enc = func(b []byte) []byte { return b }
	case "base64":
		enc = func(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b) + "\n") }
	case "hex":
		enc = func(b []byte) []byte { return []byte(hex.EncodeToString(b) + "\n") }
	default:
		return usagef("attest: --format %q: want raw, base64 or hex", *format)
	}
	nsm, err := a.openNSM()
	if err != nil {
		return err
	}
	defer nsm.Close()
	doc, err := nsm.Attestation(n, u, p)
	if err != nil {
		return err
	}
	return a.output(*out, enc(doc))
}

// output writes b to the file (0600) or to stdout.
func (a *app) output(file string, b []byte) error {
	if file == "" || file == "-" {
		_, err := a.stdout.Write(b)
		return err
	}
	return writeFile(file, b, 0o600)
}

// --- KMS commands ---

type outputFlags struct{ format, out string }

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "format", "json", "")
	fs.StringVar(&o.out, "out", "", "")
}

func (o *outputFlags) check(cmd string) error {
	switch o.format {
	case "json":
	case "raw":
		if o.out == "" || o.out == "-" {
			return usagef("%s: --format raw needs --out FILE (raw key material is not written to stdout)", cmd)
		}
	default:
		return usagef("%s: --format %q: want json or raw", cmd, o.format)
	}
	return nil
}

// emit writes the JSON object v, or the raw bytes, as the flags say.
func (a *app) emit(o *outputFlags, v any, raw []byte) error {
	if o.format == "raw" {
		return a.output(o.out, raw)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return a.output(o.out, append(b, '\n'))
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

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

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
			if err := writeFile(*ctOut, dk.CiphertextBlob, 0o600); err != nil {
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
	if err := o.check("decrypt"); err != nil {
		return err
	}
	var blob []byte
	var err error
	if *ct != "" {
		if blob, err = base64.StdEncoding.DecodeString(*ct); err != nil {
			return usagef("decrypt: --ciphertext: not base64")
		}
	} else {
		if blob, err = os.ReadFile(*ctFile); err != nil {
			return err
		}
	}
	in := &kms.DecryptInput{CiphertextBlob: blob}
	if *keyID != "" {
		in.KeyId = keyID
	}
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
	return a.withClient(func(ctx context.Context, c *agent.Client) error {
		r, err := c.GenerateRandom(ctx, *n)
		if err != nil {
			return err
		}
		defer clear(r)
		return a.emit(&o, map[string]string{"Plaintext": b64(r)}, r)
	})
}

// --- serve ---

func (a *app) serve(args []string) error {
	fs := a.flags("serve")
	listen := fs.String("listen", "", "")
	keyID := fs.String("key-id", "", "")
	keySpec := fs.String("key-spec", "AES_256", "")
	attestedListen := fs.String("attested-listen", "", "")
	upstream := fs.String("upstream", "", "")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	if *listen == "" {
		return usagef("serve: --listen ADDR is required (vsock://any:5000, tcp://127.0.0.1:5000, unix:///run/agent.sock)")
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
		dataKey, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: keyID, KeySpec: types.DataKeySpec(*keySpec)})
		if err != nil {
			return fmt.Errorf("fetching the data key at start: %w", err)
		}
		defer clear(dataKey.Plaintext)
		log.Info("data key fetched with Recipient", slog.String("key_id", dataKey.KeyID),
			slog.Int("plaintext_bytes", len(dataKey.Plaintext)), slog.Int("ciphertext_blob_bytes", len(dataKey.CiphertextBlob)))
	}
	kind := a.g.nsm
	h, err := agent.NewEndpoint(&agent.EndpointConfig{NSM: nsm, Kind: kind, Logger: log})
	if err != nil {
		return err
	}
	ctx, waitAttested, err := a.startAttested(ctx, nsm, *attestedListen, *upstream)
	if err != nil {
		return err
	}
	err = agent.Serve(ctx, *listen, h, func(addr net.Addr) {
		log.Info("attestation endpoint listening", slog.String("addr", *listen), slog.String("local", addr.String()))
	})
	if aerr := waitAttested(); err == nil {
		err = aerr
	}
	if err == nil {
		log.Info("attestation endpoint stopped")
	}
	return err
}

// --- pcr ---

func (a *app) pcr(args []string) error {
	if len(args) == 0 {
		return usagef("pcr: want describe, extend, lock or lock-range")
	}
	sub, args := args[0], args[1:]
	fs := a.flags("pcr " + sub)
	data := fs.String("data", "", "")
	dataFile := fs.String("data-file", "", "")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("pcr %s: want one PCR index (or range)", sub)
	}
	idx, err := strconv.Atoi(pos[0])
	if err != nil || idx < 0 {
		return usagef("pcr %s: %q is not a PCR index", sub, pos[0])
	}
	if sub != "extend" && (*data != "" || *dataFile != "") {
		return usagef("pcr %s: --data is for pcr extend", sub)
	}
	var payload []byte
	if sub == "extend" {
		if (*data == "") == (*dataFile == "") {
			return usagef("pcr extend: give exactly one of --data HEX and --data-file FILE")
		}
		if *data != "" {
			if payload, err = decodeHexFlag("data", *data); err != nil {
				return err
			}
		} else if payload, err = os.ReadFile(*dataFile); err != nil {
			return err
		}
	}
	switch sub {
	case "describe", "extend", "lock", "lock-range":
	default:
		return usagef("pcr: unknown subcommand %q: want describe, extend, lock or lock-range", sub)
	}
	nsm, err := a.openNSM()
	if err != nil {
		return err
	}
	defer nsm.Close()
	type pcrJSON struct {
		Index  int    `json:"index"`
		Value  string `json:"value"`
		Locked bool   `json:"locked"`
	}
	switch sub {
	case "describe":
		v, locked, err := nsm.DescribePCR(idx)
		if err != nil {
			return err
		}
		return a.printJSON(pcrJSON{idx, hex.EncodeToString(v), locked})
	case "extend":
		v, err := nsm.ExtendPCR(idx, payload)
		if err != nil {
			return err
		}
		return a.printJSON(pcrJSON{idx, hex.EncodeToString(v), false})
	case "lock":
		if err := nsm.LockPCR(idx); err != nil {
			return err
		}
		v, locked, err := nsm.DescribePCR(idx)
		if err != nil {
			return err
		}
		return a.printJSON(pcrJSON{idx, hex.EncodeToString(v), locked})
	default: // lock-range
		if err := nsm.LockPCRs(idx); err != nil {
			return err
		}
		d, err := nsm.DescribeNSM()
		if err != nil {
			return err
		}
		return a.printJSON(map[string]any{"locked_pcrs": d.LockedPCRs})
	}
}

func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(append(b, '\n'))
	return err
}

func (a *app) describeNSM(args []string) error {
	fs := a.flags("describe-nsm")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	nsm, err := a.openNSM()
	if err != nil {
		return err
	}
	defer nsm.Close()
	d, err := nsm.DescribeNSM()
	if err != nil {
		return err
	}
	return a.printJSON(map[string]any{
		"version":     fmt.Sprintf("%d.%d.%d", d.VersionMajor, d.VersionMinor, d.VersionPatch),
		"module_id":   d.ModuleID,
		"max_pcrs":    d.MaxPCRs,
		"locked_pcrs": d.LockedPCRs,
		"digest":      d.Digest,
	})
}

func (a *app) emulatorRoot(args []string) error {
	fs := a.flags("emulator-root")
	out := fs.String("out", "", "")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	if a.g.emulatorState == "" {
		return usagef("emulator-root: --emulator-state DIR is required (a root not kept there dies with this process)")
	}
	if err := os.MkdirAll(a.g.emulatorState, 0o700); err != nil {
		return err
	}
	// The root only: starting an emulator here would boot (and so reset)
	// the state directory's PCR bank.
	root, err := nitroca.LoadOrCreateRoot(filepath.Join(a.g.emulatorState, emulator.RootCertFile),
		filepath.Join(a.g.emulatorState, emulator.RootKeyFile), rand.Reader, time.Now())
	if err != nil {
		return err
	}
	return a.output(*out, root.CertPEM())
}
