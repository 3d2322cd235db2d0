// SPDX-License-Identifier: Apache-2.0

// Command enclave-agent runs inside a Nitro Enclave: it asks the NSM (or,
// for development, the emulator) for attestation documents, fetches keys
// from KMS or kms-server with Recipient, and serves attestation documents to
// remote verifiers. Run "enclave-agent help" for the usage.
//
// The package is split by concern, as age's command is: main.go (usage and
// dispatch), parse.go (flags), nsm.go (the NSM commands: attest, pcr,
// describe-nsm, emulator-root), kms.go (genkey, decrypt, genrandom), derive.go (derive, sign),
// serve.go (the attestation endpoint), keywait.go (serve's retried start-up
// fetch of the data key) and output.go (files and JSON).
package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `Usage: enclave-agent [global flags] COMMAND [flags]
       enclave-agent help | version

Runs inside a Nitro Enclave: attestation documents from the NSM, keys from
KMS (or kms-server) delivered with Recipient, an attestation endpoint.

Commands:
  serve        --listen ADDR [--key-id ID [--key-spec AES_256] [--key-wait 5m]]
               [--max-concurrent-attestations 4]
               serve POST /v1/attestation and GET /v1/health on ADDR (its
               documents carry any caller's nonce and user data, the
               parent's too: they bind nothing to the enclave); with
               --key-id, fetch a data key at start (kept in memory),
               retried for up to --key-wait while the key cannot be had
               yet; ADDR is served once it is
               [--attested-listen ADDR --upstream http://127.0.0.1:PORT
                [--attested-handshake-rate 100]]
               also serve attested TLS on ADDR: the attestation challenge
               and a reverse proxy to the application (nitro-verify --connect)
               [--kms-listen 127.0.0.1:PORT]
               also serve KMS (JSON 1.1) to applications in the enclave: an
               AWS SDK with endpoint http://127.0.0.1:PORT gets keys with
               Recipient
  init         [--seed-entropy=true] [--seed-bytes 512 (1-4096)] [--loopback=true]
               [--time-from ADDR] [--max-clock-step 5m (at most 1h)] [--logs-to ADDR]
               [--restart no (default)|on-failure|always]
               [--max-restarts N (default 0: no bound)]
               [--stop-timeout 10s] [--listen ADDR [--max-concurrent-attestations 4]]
               [--kms-listen ADDR]
               -- COMMAND [ARGS...]
               boot an enclave (as PID 1 or before the application): seed the
               kernel's random pool from the NSM, bring up lo, set the clock
               from host-proxy's time route, then run COMMAND with its output
               sent to host-proxy's logs route, restarted by policy, stopped
               with SIGTERM; exits with COMMAND's status. COMMAND's
               environment names the endpoints' bound addresses:
               ENCLAVE_AGENT_KMS_ENDPOINT=http://127.0.0.1:PORT (--kms-listen)
               and ENCLAVE_AGENT_LISTEN=tcp://HOST:PORT (--listen); with
               --logs-to, ENCLAVE_AGENT_FORWARDED_PIPES names the forwarded
               stdout and stderr pipes, and genkey, decrypt, genrandom and
               derive refuse to write key material to them (exit 2): give
               --out FILE, or capture their output with a pipe of your own
  attest       [--nonce HEX] [--user-data HEX] [--public-key HEX]
               [--format raw|base64|hex] [--out FILE]
               print an attestation document (raw CBOR by default)
  genkey       --key-id ID [--key-spec AES_256 (default)|AES_128 | --bytes N]
               [--context K=V]... [--format json|raw] [--out FILE]
               [--ciphertext-out FILE]
               GenerateDataKey with Recipient
  decrypt      --key-id ID (--ciphertext BASE64 | --ciphertext-file FILE)
               [--context K=V]... [--encryption-algorithm ALG]
               [--format json|raw] [--out FILE]
               Decrypt with Recipient; --key-id (the key ARN that encrypted
               the blob) is required: the parent can swap a stored blob
  genrandom    [--length N (default 32)] [--format json|raw] [--out FILE]
               GenerateRandom with Recipient
  derive       --key-id ID (--public-key BASE64 | --public-key-file FILE)
               [--key-agreement-algorithm ECDH] [--format json|raw] [--out FILE]
               DeriveSharedSecret with Recipient (the peer's DER public key)
  sign         --key-id ID (--message BASE64 | --message-file FILE)
               --signing-algorithm ALG [--message-type RAW (default)|DIGEST]
               [--format json|raw] [--out FILE]
               Sign: a pass-through (KMS has no Recipient on Sign; the key
               policy gates it by other means, see docs/key-policies.md)
  pcr describe N | pcr extend N (--data HEX | --data-file FILE) |
  pcr lock N | pcr lock-range N
               read, extend and lock PCRs (16-31 are the application's)
  describe-nsm print the NSM description as JSON
  emulator-root --emulator-state DIR [--out FILE]
               write the emulator's root certificate (PEM, mode 0644; its
               private key stays in DIR, 0600) for verifiers:
               nitro-verify --root FILE
  help         this text (also -h, --help; after any command too:
               "attest help", "pcr describe --help")
  version      print the version (also --version; after any command too)

Command flags:
  --listen ADDR             serve, init: the attestation endpoint, on
                            vsock://any:PORT, vsock://CID:PORT,
                            tcp://HOST:PORT, HOST:PORT or unix:///PATH
  --max-concurrent-attestations N
                            serve, init: NSM requests the attestation endpoint
                            serves at once (default 4; 0 is the default);
                            more get 503 busy with Retry-After: 1 at once
  --attested-listen ADDR    serve: the attested TLS listener (an address as above)
  --upstream URL            serve: the application behind attested TLS, an
                            http:// URL on a loopback address
  --attested-handshake-rate N
                            serve: TLS handshakes the attested listener starts
                            a second, after a burst of N (default 100; 0 is
                            the default); more connections wait, unaccepted
  --kms-listen ADDR         serve, init: the local KMS endpoint, loopback TCP only
                            (127.0.0.1:PORT); --kms-endpoint is the key service
  --key-id ID               a key ID, key ARN, alias/NAME or alias ARN
  --key-spec SPEC           AES_256 or AES_128 (genkey, serve)
  --key-wait DURATION       serve: how long to retry the data key fetched at
                            start (default 5m; 0: ask once): each failure is
                            logged at WARN, the next attempt 1s, 2s, ... (at
                            most 30s, jittered) later; a refused answer
                            (Plaintext, --kms-account, one that does not
                            open) or a request KMS calls invalid
                            (ValidationException, InvalidKeyUsageException)
                            is not retried. Then serve exits 1
  --bytes N                 genkey: N bytes instead of --key-spec (1-1024)
  --context K=V             encryption context pair (repeatable)
  --ciphertext BASE64, --ciphertext-file FILE
                            decrypt: the CiphertextBlob
  --encryption-algorithm ALG
                            decrypt: SYMMETRIC_DEFAULT (default) or an RSA one
  --length N                genrandom: 1 to 1024 bytes (default 32)
  --nonce HEX, --user-data HEX, --public-key HEX
                            attest: fields of the document
  --data HEX, --data-file FILE
                            pcr extend: the data to extend with
  --format F                attest: raw (default), base64 or hex;
                            KMS commands: json (default) or raw
  --out FILE                write there (mode 0600) instead of stdout
  --ciphertext-out FILE     genkey: write the CiphertextBlob there (0600)

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
                            tcp://HOST:PORT, HOST:PORT or unix:///PATH (TLS
                            stays end to end)
  --kms-ca FILE             PEM roots for an https endpoint (default: system roots)
  --kms-account ACCOUNT_ID  refuse any KMS answer naming a key outside this
                            account (or, for a key ARN asked for, another key);
                            the parent supplies the credentials, and
                            alias/NAME or a bare key ID resolves in their account
  --credentials-endpoint ADDR
                            fetch credentials from the host-proxy's credentials
                            route at ADDR (vsock://3:8003, unix://..., tcp://...);
                            without it: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
                            AWS_SESSION_TOKEN from the environment.
                            --credentials-endpoint requires --kms-account: the
                            parent could hand in credentials for an account
                            of its own
  --credentials-path PATH   HTTP path there (default /credentials)
  --key-rotation DUR        replace the recipient RSA key this often (default 1h;
                            at least 1m; 0 is the default; negative is refused)
  --log-level LEVEL         debug, info (default), warn or error
  --version                 print the version and exit
  -h, --help                print this help and exit

JSON output holds base64 blobs: {"KeyId","CiphertextBlob","Plaintext"} for
genkey, {"KeyId","EncryptionAlgorithm","Plaintext"} for decrypt,
{"Plaintext"} for genrandom, {"KeyId","KeyAgreementAlgorithm","SharedSecret"}
for derive, {"KeyId","SigningAlgorithm","Signature"} for sign; --format raw writes the plaintext bytes to --out
(and genkey the CiphertextBlob to --ciphertext-out). Credentials are never
taken from flags. Output files are written with mode 0600, except the
emulator's root certificate (public: 0644).

Exit status:
  0  success
  1  the operation failed (KMS error, NSM error, refused response, a
     listener that cannot be bound)
  2  usage error (bad flag or address, unreadable input file)
init, once COMMAND ran, exits with COMMAND's status: 1 if a signal ended
it, 0 if init stopped it on SIGTERM.

Examples:
  enclave-agent --nsm emulator --debug-mode attest --format base64
  enclave-agent --region eu-west-1 --proxy vsock://3:8000 \
      --credentials-endpoint vsock://3:8003 --kms-account 111122223333 \
      genkey --key-id alias/app
  enclave-agent --region eu-west-1 --proxy vsock://3:8000 \
      --credentials-endpoint vsock://3:8003 --kms-account 111122223333 \
      serve --listen vsock://any:5005
`

// app is one invocation.
type app struct {
	ctx    context.Context // cancelled on SIGINT/SIGTERM
	g      globals
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	log    *slog.Logger
	p      *cli.Program
	clock  clock // what serve's start-up fetch waits on
}

// commands is the dispatch table: every command and what runs it with the
// arguments after its name. The usage's Commands section lists the same
// names (TestHelpEveryCommand checks both ways); help and version are
// answered before the table.
var commands = map[string]func(a *app, args []string) error{
	"serve":         (*app).serve,
	"init":          (*app).initCmd,
	"attest":        (*app).attest,
	"genkey":        (*app).genkey,
	"decrypt":       (*app).decrypt,
	"genrandom":     (*app).genrandom,
	"derive":        (*app).derive,
	"sign":          (*app).sign,
	"pcr":           (*app).pcr,
	"describe-nsm":  (*app).describeNSM,
	"emulator-root": (*app).emulatorRoot,
}

// errHelp and errVersion end a command early: -h or --version was given
// among its flags, or help or version as its first argument.
var (
	errHelp    = cli.ErrHelp
	errVersion = cli.ErrVersion
)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return runWith(ctx, args, stdin, stdout, stderr, getenv, realClock{})
}

// runWith is run with the clock that serve's start-up fetch waits on.
func runWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, clk clock) int {
	a := &app{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, clock: clk,
		p: &cli.Program{Name: "enclave-agent", Stdout: stdout, Stderr: stderr}}
	a.g = globals{nsm: "device", pcrs: pcrFlag{}, logLevel: "info"}
	top := a.flags("enclave-agent")
	rest, err := a.parseTop(top, args)
	if err == nil && len(rest) == 0 {
		err = usagef("no command given")
	}
	if err == nil {
		cmd, cargs := rest[0], rest[1:]
		switch run, ok := commands[cmd]; {
		case cli.IsHelp(cmd):
			err = errHelp
		case cli.IsVersion(cmd):
			err = errVersion
		case ok:
			err = run(a, cargs)
		default:
			err = usagef("unknown command %q", cmd)
		}
	}
	if ae := (*appExit)(nil); errors.As(err, &ae) {
		return ae.code // init: the application's status (already logged)
	}
	if errors.Is(err, enclave.ErrNoDevice) {
		err = cli.WithHint(err, "--nsm emulator --debug-mode (or --pcr0 HEX) for development")
	}
	return a.p.Exit(err, usage)
}
