// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/enclave/emulator"
	"github.com/enclavekit/enclavekit/internal/sdkhttp"
	"github.com/enclavekit/enclavekit/internal/transport"
)

// oracleParent is a parent instance relaying the agent's KMS traffic over
// plain HTTP. For every request it takes the enclave's fresh attestation
// document, asks the real key service itself for the stored blob with that
// document as Recipient (the image-pinned policy allows it: the document is
// genuine), flips CBC bits in the envelope it gets back, and returns it as
// the answer. It then watches what the agent does next.
type oracleParent struct {
	t       *testing.T
	kms     *awskms.Client // the key service, with the credentials the parent holds
	blob    []byte         // the stored CiphertextBlob whose plaintext it wants
	keygens func() int     // key generations so far: work a parent could time
	guesses []byte

	mu   sync.Mutex
	n    int      // requests seen
	keys []string // the public key of each request's document
	work []int    // key generations before each request's document
}

func (p *oracleParent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Recipient *struct{ AttestationDocument []byte }
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Recipient == nil {
		p.t.Errorf("parent: agent request without Recipient: %s", body)
		http.Error(w, `{"__type":"ValidationException"}`, 400)
		return
	}
	doc, err := attestation.Parse(req.Recipient.AttestationDocument)
	if err != nil {
		p.t.Errorf("parent: %v", err)
		return
	}
	p.mu.Lock()
	i := p.n
	p.n++
	p.keys = append(p.keys, string(doc.PublicKey))
	p.work = append(p.work, p.keygens())
	p.mu.Unlock()

	out, err := p.kms.Decrypt(r.Context(), &awskms.DecryptInput{CiphertextBlob: p.blob,
		Recipient: &types.RecipientInfo{AttestationDocument: req.Recipient.AttestationDocument,
			KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256}})
	if err != nil {
		p.t.Errorf("parent: Decrypt with the captured document: %v", err)
		return
	}
	cfr := out.CiphertextForRecipient
	if i < len(p.guesses) {
		cfr = flipLastByte(p.t, cfr, p.guesses[i])
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"KeyId": aws.ToString(out.KeyId), "CiphertextBlob": []byte("blob"), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
		"CiphertextForRecipient": cfr,
	})
}

// flipLastByte turns the envelope of a 32-byte plaintext (content blocks
// C0 C1 C2 under P0 P1 P2, P2 all padding) into one whose content is
// C0, C0⊕Δ, C1: its last plaintext block is P1⊕Δ, with Δ flipping the
// last byte by guess⊕1. The padding is valid exactly when guess is the
// last byte of P1 (the plaintext's byte 31), given byte 30 is not 0x02.
func flipLastByte(t *testing.T, cfr []byte, guess byte) []byte {
	t.Helper()
	const tail = 10 // 00 00 ending encryptedContent, then four indefinite layers
	n := len(cfr)
	if n < tail+50 || !bytes.Equal(cfr[n-tail:], make([]byte, tail)) || cfr[n-tail-50] != 0x04 || cfr[n-tail-49] != 48 {
		t.Fatalf("envelope layout changed: cannot locate the 48 content bytes")
	}
	out := bytes.Clone(cfr)
	c := out[n-tail-48 : n-tail]
	c0, c1 := bytes.Clone(c[:16]), bytes.Clone(c[16:32])
	mid := bytes.Clone(c0)
	mid[15] ^= guess ^ 0x01
	copy(c[16:32], mid)
	copy(c[32:48], c1)
	return out
}

// TestNoPaddingOracle replays the CBC padding-oracle attack of issue 12
// against the agent: for each guess of the plaintext's last byte the parent
// answers one agent request with a tampered envelope, then looks at the
// agent's next request (its RSA key, and the work done before it, which a
// parent would see as timing). Whatever the agent does next must not depend
// on whether the padding came out valid, and the application must see the
// same error either way when the plaintext length is known.
func TestNoPaddingOracle(t *testing.T) {
	for _, op := range []string{"GenerateDataKey", "Decrypt"} {
		t.Run(op, func(t *testing.T) { testNoPaddingOracle(t, op) })
	}
}

func testNoPaddingOracle(t *testing.T, op string) {
	env := startKMSServer(t, "tcp")
	ctx := context.Background()
	admin := env.admin(t)
	good := image("pinned image")
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"` + adminARN + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"EnclaveOnly","Effect":"Allow","Principal":{"AWS":"` + enclaveARN + `"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + hex.EncodeToString(good) + `"}}}]}`
	ck, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(policy)})
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte{0xa5}, 32)
	secret[31] = 0x17 // the byte the parent is after; secret[30] = 0xa5 ≠ 0x02
	enc, err := admin.Encrypt(ctx, &awskms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: secret})
	if err != nil {
		t.Fatal(err)
	}

	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: good}, Root: env.root, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	var guesses []byte
	for g := 0x10; g < 0x20; g++ {
		guesses = append(guesses, byte(g))
	}
	parent := &oracleParent{t: t, kms: env.client(t, enclaveAKID, enclaveSecret), blob: enc.CiphertextBlob, guesses: guesses}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, ln, parent)
	c, err := New(&Config{NSM: emu, Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true,
		Proxy: "tcp://" + ln.Addr().String(), KeyRotation: -1,
		Credentials: credentials.NewStaticCredentialsProvider(enclaveAKID, enclaveSecret, ""), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	parent.keygens = c.keys.generated

	// The application: asks for its key once per unit of work, whatever
	// happened the last time.
	var errs []string
	for range len(guesses) + 1 {
		var err error
		switch op {
		case "GenerateDataKey":
			_, err = c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: ck.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256})
		case "Decrypt":
			_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: ck.KeyMetadata.Arn})
		}
		if err != nil {
			errs = append(errs, err.Error())
		} else {
			errs = append(errs, "")
		}
	}
	if errs[len(guesses)] != "" {
		t.Fatalf("an untampered answer failed: %s", errs[len(guesses)])
	}

	// What the parent sees after answering guess i: the key and the work
	// of request i+1.
	type seen struct {
		sameKey bool
		work    int
	}
	obs := map[seen][]byte{}
	for i, g := range guesses {
		s := seen{parent.keys[i+1] == parent.keys[i], parent.work[i+1] - parent.work[i]}
		obs[s] = append(obs[s], g)
	}
	if len(obs) != 1 {
		var lines []string
		for s, gs := range obs {
			lines = append(lines, fmt.Sprintf("same key %v, %d key generations: guesses %x", s.sameKey, s.work, gs))
			if len(gs) == 1 && gs[0] == secret[31] {
				lines = append(lines, fmt.Sprintf("the parent learned byte 31 of the secret (0x%02x) in %d requests", gs[0], len(guesses)+1))
			}
		}
		t.Fatalf("the agent's next request depends on whether the padding was valid:\n%s", strings.Join(lines, "\n"))
	}
	if op == "GenerateDataKey" {
		// The length is known: a valid padding of the wrong length is the
		// same failure as an invalid padding, in the same words.
		for i := range guesses {
			if errs[i] == "" || errs[i] != errs[0] {
				t.Fatalf("guess %#x: error %q, guess %#x: %q: the application can tell them apart", guesses[i], errs[i], guesses[0], errs[0])
			}
		}
	}
}

// client is an SDK client with the given access key, dialling through the
// environment's transport address.
func (env *e2eEnv) client(t testing.TB, akid, secret string) *awskms.Client {
	t.Helper()
	addr, err := transport.ParseAddr(env.proxy)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return transport.Dial(ctx, addr) }}
	if env.tls != nil {
		tr.TLSClientConfig = env.tls
	}
	return awskms.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""),
		HTTPClient: sdkhttp.New(&http.Client{Transport: tr}), Retryer: func() aws.Retryer { return aws.NopRetryer{} },
	}, func(o *awskms.Options) { o.BaseEndpoint = aws.String(env.endpoint) })
}
