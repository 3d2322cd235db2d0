// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// ErrDemo is matched by every error of this package.
var ErrDemo = errors.New("demo: invalid input")

// KeyPolicy returns a key policy (JSON) giving adminARN every kms action
// and enclaveARN kms:GenerateDataKey and kms:Decrypt only when the request
// carries an attestation document whose ImageSha384 (PCR0) is imageSha384
// (hex, compared case-insensitively).
func KeyPolicy(adminARN, enclaveARN, imageSha384 string) ([]byte, error) {
	if b, err := hex.DecodeString(imageSha384); err != nil || len(b) != 48 {
		return nil, fmt.Errorf("%w: image digest %q: want 96 hex digits (SHA-384)", ErrDemo, imageSha384)
	}
	type stmt struct {
		Sid       string
		Effect    string
		Principal map[string]string
		Action    any
		Resource  string
		Condition map[string]map[string]string `json:",omitempty"`
	}
	p := struct {
		Version   string
		Statement []stmt
	}{
		Version: "2012-10-17",
		Statement: []stmt{
			{Sid: "KeyAdministration", Effect: "Allow", Principal: map[string]string{"AWS": adminARN},
				Action: "kms:*", Resource: "*"},
			{Sid: "EnclaveImageOnly", Effect: "Allow", Principal: map[string]string{"AWS": enclaveARN},
				Action: []string{"kms:GenerateDataKey", "kms:Decrypt"}, Resource: "*",
				Condition: map[string]map[string]string{"StringEqualsIgnoreCase": {
					"kms:RecipientAttestation:ImageSha384": strings.ToLower(imageSha384)}}},
		},
	}
	return json.MarshalIndent(p, "", "  ")
}

// NewClient returns a KMS client for a key service at endpoint
// (https://HOST:PORT) with static credentials, trusting roots (nil: the
// system's roots).
func NewClient(endpoint, region, accessKeyID, secret string, roots *x509.CertPool) *kms.Client {
	return kms.NewFromConfig(aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKeyID, secret, ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: roots}}},
	}, func(o *kms.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// LoadCA reads a PEM file of CA certificates (kms-server init's
// tls-ca.pem) into a pool.
func LoadCA(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrDemo, path)
	}
	return p, nil
}

// CreatePinnedKey creates a symmetric key with policy and, when alias is not
// empty, the alias (alias/NAME) for it. It returns the key's ID.
func CreatePinnedKey(ctx context.Context, c *kms.Client, policy []byte, alias, description string) (string, error) {
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(string(policy)), Description: aws.String(description)})
	if err != nil {
		return "", fmt.Errorf("demo: CreateKey: %w", err)
	}
	id := aws.ToString(out.KeyMetadata.KeyId)
	if alias != "" {
		if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(id)}); err != nil {
			return "", fmt.Errorf("demo: CreateAlias: %w", err)
		}
	}
	return id, nil
}

// Fingerprint is a short name for key material that reveals nothing useful
// about it: the first 16 hex digits of its SHA-256.
func Fingerprint(key []byte) string {
	h := sha256.Sum256(key)
	return "sha256:" + hex.EncodeToString(h[:8])
}

// Exchange is one KMS request and its response as the tap logs them: blobs
// replaced by "<N bytes>".
type Exchange struct {
	Operation string         `json:"operation"`
	Status    int            `json:"status"`
	Request   map[string]any `json:"request"`
	Response  map[string]any `json:"response"`
}

// Tap relays HTTP requests to Target unchanged (the Host header included,
// so SigV4 signatures still verify) and writes each KMS exchange to Log as
// one JSON line ([Exchange]).
type Tap struct {
	Target transport.Addr
	Log    io.Writer

	once  sync.Once
	proxy *httputil.ReverseProxy
	mu    sync.Mutex
}

func (t *Tap) init() {
	tr := &http.Transport{Proxy: nil, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return transport.Dial(ctx, t.Target)
	}}
	t.proxy = &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = pr.In.Host
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			req, _ := resp.Request.Context().Value(reqBodyKey{}).([]byte)
			t.record(resp.Request.Header.Get("X-Amz-Target"), resp.StatusCode, req, body)
			return nil
		},
	}
}

type reqBodyKey struct{}

// ServeHTTP relays r and records the exchange.
func (t *Tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.once.Do(t.init)
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "tap: reading the request", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	t.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reqBodyKey{}, body)))
}

func (t *Tap) record(target string, status int, req, resp []byte) {
	_, op, _ := strings.Cut(target, ".")
	ex := Exchange{Operation: op, Status: status, Request: Summarize(req), Response: Summarize(resp)}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(ex) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Log.Write(buf.Bytes())
}

// Summarize decodes a KMS JSON body and replaces every base64 blob (a
// string of more than 40 characters that decodes as standard base64) with
// "<N bytes>", recursively. A body that is not a JSON object gives nil.
func Summarize(body []byte) map[string]any {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	return summarizeMap(m)
}

func summarizeMap(m map[string]any) map[string]any {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			m[k] = summarizeMap(v)
		case string:
			if len(v) > 40 {
				if b, err := base64.StdEncoding.DecodeString(v); err == nil {
					m[k] = fmt.Sprintf("<%d bytes>", len(b))
				}
			}
		}
	}
	return m
}
