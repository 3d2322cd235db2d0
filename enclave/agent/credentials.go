// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// ErrCredentials is wrapped by every failure to obtain credentials.
var ErrCredentials = errors.New("agent: no usable credentials")

// EnvCredentials reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the
// optional AWS_SESSION_TOKEN on every Retrieve (wrap it in a cache, as
// [New] does).
type EnvCredentials struct {
	// Getenv looks a variable up: pass os.Getenv (required; explicit so
	// that tests can inject an environment).
	Getenv func(string) string
}

// Retrieve implements aws.CredentialsProvider.
func (p EnvCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	if p.Getenv == nil {
		return aws.Credentials{}, fmt.Errorf("%w: EnvCredentials without Getenv", ErrCredentials)
	}
	id, secret := p.Getenv("AWS_ACCESS_KEY_ID"), p.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Credentials{}, fmt.Errorf("%w: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set", ErrCredentials)
	}
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: p.Getenv("AWS_SESSION_TOKEN"), Source: "environment"}, nil
}

// DefaultCredentialsPath is the HTTP path [EndpointCredentials] requests
// when Path is empty.
const DefaultCredentialsPath = "/credentials"

// credentialsHeader is host-proxy's CredentialsHeader: its credentials
// route refuses requests without it (a browser cannot send it cross-origin
// without a preflight), and those whose Host is not localhost.
const credentialsHeader = "X-Enclavekit-Credentials"

// maxCredentialsBody bounds the credential endpoint's answer.
const maxCredentialsBody = 64 << 10

// maxCredentialsHeader bounds the credential route's answer head
// (TestCredentialsHeaderBound): transport.RouteHTTP's bound.
const maxCredentialsHeader = transport.MaxRouteHeader

// EndpointCredentials fetches credentials from the host over a transport
// address (vsock in production): an HTTP GET of Path, with Host localhost
// and the header X-Enclavekit-Credentials: 1 that host-proxy's credentials
// route requires, answered with the JSON the EC2 and ECS credential
// endpoints use,
//
//	{"AccessKeyId": "...", "SecretAccessKey": "...", "Token": "...", "Expiration": "RFC 3339"}
//
// (Token and Expiration optional). The parent writes the answer, so it is
// bounded: an answer whose status line and headers exceed 16 KiB, or
// whose body exceeds 64 KiB, is refused with [ErrCredentials]. Wrapped in
// aws.CredentialsCache (as [New] does), credentials are fetched again
// ExpiryWindow before Expiration.
type EndpointCredentials struct {
	// Addr is the endpoint's transport address, e.g. "vsock://3:8003".
	Addr string
	// Path is the HTTP path; "" is DefaultCredentialsPath.
	Path string
	// Timeout bounds one fetch; 0 is 10 s.
	Timeout time.Duration
}

type endpointCredentialsJSON struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	SessionToken    string `json:"SessionToken"`
	Expiration      string `json:"Expiration"`
}

// Retrieve implements aws.CredentialsProvider.
func (p *EndpointCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	addr, err := transport.ParseAddr(p.Addr)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("%w: credential endpoint: %w", ErrCredentials, err)
	}
	path := p.Path
	if path == "" {
		path = DefaultCredentialsPath
	}
	if !strings.HasPrefix(path, "/") {
		return aws.Credentials{}, fmt.Errorf("%w: credential endpoint path %q must start with /", ErrCredentials, path)
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Transport: transport.RouteHTTP(addr)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://localhost"+path, nil)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(credentialsHeader, "1")
	resp, err := client.Do(req)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("%w: credential endpoint %s: %w", ErrCredentials, p.Addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCredentialsBody+1))
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("%w: credential endpoint %s: %w", ErrCredentials, p.Addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return aws.Credentials{}, fmt.Errorf("%w: credential endpoint %s: HTTP %d", ErrCredentials, p.Addr, resp.StatusCode)
	}
	if len(body) > maxCredentialsBody {
		return aws.Credentials{}, fmt.Errorf("%w: credential endpoint %s: answer over %d bytes", ErrCredentials, p.Addr, maxCredentialsBody)
	}
	var c endpointCredentialsJSON
	if err := json.Unmarshal(body, &c); err != nil {
		// Never echo the body: it may hold a secret.
		return aws.Credentials{}, fmt.Errorf("%w: credential endpoint %s: malformed JSON", ErrCredentials, p.Addr)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return aws.Credentials{}, fmt.Errorf("%w: credential endpoint %s: AccessKeyId or SecretAccessKey missing", ErrCredentials, p.Addr)
	}
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.Token, Source: "enclavekit host credential endpoint"}
	if creds.SessionToken == "" {
		creds.SessionToken = c.SessionToken
	}
	if c.Expiration != "" {
		exp, err := time.Parse(time.RFC3339, c.Expiration)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("%w: credential endpoint %s: Expiration %q is not RFC 3339", ErrCredentials, p.Addr, c.Expiration)
		}
		creds.CanExpire, creds.Expires = true, exp
	}
	return creds, nil
}
