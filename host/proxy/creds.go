// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/enclavekit/enclavekit/internal/boundedfile"
)

// Credentials are AWS credentials in the container-credentials JSON format
// (what ECS and the IMDS security-credentials endpoint serve). String and
// LogValue redact the secrets, so they never reach a log by accident.
type Credentials struct {
	AccessKeyID     string    `json:"AccessKeyId"`
	SecretAccessKey string    `json:"SecretAccessKey"`
	Token           string    `json:"Token,omitempty"`
	Expiration      time.Time `json:"Expiration,omitzero"`
}

// String returns the access key ID and expiry only.
func (c Credentials) String() string {
	return fmt.Sprintf("Credentials{AccessKeyId: %s, SecretAccessKey: <redacted>, Expiration: %s}",
		c.AccessKeyID, c.Expiration.Format(time.RFC3339))
}

// LogValue redacts the secrets for log/slog.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key_id", c.AccessKeyID),
		slog.Time("expiration", c.Expiration))
}

// ErrCredentials is matched by failures to obtain credentials.
var ErrCredentials = errors.New("proxy: credentials unavailable")

type credSource func(ctx context.Context) (Credentials, error)

// credCache fetches credentials from the configured source and keeps them
// until RefreshBefore their expiry. A failed refresh keeps serving the
// cached credentials while they are still valid.
type credCache struct {
	fetch         credSource
	now           func() time.Time
	refreshBefore time.Duration
	log           *slog.Logger
	m             *metrics
	connLog       *connLog // limits the per-request warnings (nil: none)

	mu   sync.Mutex
	cur  Credentials
	have bool
}

func newCredCache(cc *CredentialsConfig, now func() time.Time, environ []string, log *slog.Logger, m *metrics) (*credCache, error) {
	c := &credCache{now: now, refreshBefore: cc.RefreshBefore, log: log, m: m}
	if c.refreshBefore == 0 {
		c.refreshBefore = DefaultRefreshBefore
	}
	switch cc.Source {
	case "imds":
		base := cc.IMDSURL
		if base == "" {
			base = DefaultIMDSURL
		}
		c.fetch = imdsSource(strings.TrimSuffix(base, "/"), cc.Role)
	case "file":
		path := cc.File
		c.fetch = func(context.Context) (Credentials, error) { return fileCredentials(path) }
	case "env":
		if environ == nil {
			environ = os.Environ()
		}
		env := append([]string(nil), environ...)
		c.fetch = func(context.Context) (Credentials, error) { return envCredentials(env) }
	}
	return c, nil
}

// get returns valid credentials, refreshing them when they are within
// refreshBefore of their expiry.
func (c *credCache) get(ctx context.Context) (Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.have && (c.cur.Expiration.IsZero() || now.Before(c.cur.Expiration.Add(-c.refreshBefore))) {
		return c.cur, nil
	}
	fresh, err := c.fetch(ctx)
	if err == nil && !fresh.Expiration.IsZero() && !now.Before(fresh.Expiration) {
		err = fmt.Errorf("source returned credentials that expired at %s", fresh.Expiration.Format(time.RFC3339))
	}
	if err != nil {
		c.m.creds.WithLabelValues("refresh_error").Inc()
		if c.have && (c.cur.Expiration.IsZero() || now.Before(c.cur.Expiration)) {
			c.log.Warn("credentials refresh failed: serving the cached credentials until they expire",
				"error", err, "expiration", c.cur.Expiration)
			return c.cur, nil
		}
		return Credentials{}, fmt.Errorf("%w: %v", ErrCredentials, err)
	}
	c.cur, c.have = fresh, true
	c.log.Info("credentials refreshed", "credentials", fresh)
	return fresh, nil
}

// prefetch warms the cache at start-up; a failure is logged, not fatal.
func (c *credCache) prefetch(ctx context.Context) {
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.get(fctx); err != nil {
		c.log.Warn("credentials not available yet", "error", err)
	}
}

// CredentialsHeader must be sent, with the value "1", on every request to
// the credentials route. A web page cannot set it on a cross-origin request
// without a CORS preflight, which the route does not answer.
const CredentialsHeader = "X-Enclavekit-Credentials"

// maxLoggedName bounds a header name the credentials route logs or
// answers: the longest real one (Sec-Fetch-Dest) is 14 bytes.
const maxLoggedName = 64

// refuseBrowser returns why r must not be served credentials, or "" when it
// may. The route listens on vsock or a unix socket only (see validate),
// which no web page reaches; these checks still hold should anything
// forward a browser's request to it, e.g. a local proxy reached
// cross-origin or through DNS rebinding (its own name resolving
// to 127.0.0.1, so that the request is same-origin and needs no preflight).
// Every browser request names that name in Host, and carries Origin or
// Sec-Fetch-* metadata; a request relayed by an HTTP proxy carries
// X-Forwarded-For (IMDSv2 refuses those for the same reason).
func refuseBrowser(r *http.Request) string {
	if r.Header.Get(CredentialsHeader) != "1" {
		return "missing " + CredentialsHeader + ": 1"
	}
	if !loopbackHost(r.Host) {
		return "Host is not localhost or a loopback address (DNS rebinding?)"
	}
	if r.Header.Get("Origin") != "" {
		return "request from a web page (Origin)"
	}
	for k := range r.Header {
		if strings.HasPrefix(k, "Sec-Fetch-") {
			// k is the client's choice, up to the server's header limit.
			return "request from a web page (" + quoteBounded(k, maxLoggedName) + ")"
		}
	}
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" {
		return "request relayed by a proxy"
	}
	return ""
}

// loopbackHost reports whether host (a Host header, with or without a port)
// is localhost or a loopback IP address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// handler serves GET /credentials.
func (c *credCache) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /credentials", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if why := refuseBrowser(r); why != "" {
			c.m.creds.WithLabelValues("refused").Inc()
			if msg := "credentials request refused"; c.connLog.allow("credentials", msg) {
				c.log.Warn(msg, "reason", why, "peer", r.RemoteAddr)
			}
			http.Error(w, "forbidden: "+why, http.StatusForbidden)
			return
		}
		cr, err := c.get(r.Context())
		if err != nil {
			c.m.creds.WithLabelValues("error").Inc()
			if msg := "credentials request failed"; c.connLog.allow("credentials", msg) {
				c.log.Warn(msg, "error", err)
			}
			http.Error(w, "credentials unavailable", http.StatusServiceUnavailable)
			return
		}
		c.m.creds.WithLabelValues("ok").Inc()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(cr)
	})
	return mux
}

func validCreds(c Credentials) error {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return errors.New("AccessKeyId or SecretAccessKey missing")
	}
	return nil
}

// maxCredsFile bounds a credentials file: a JSON object with an access
// key, secret and session token is a few KiB.
const maxCredsFile = boundedfile.MiB

// ErrCredentialsFileMode is matched by a [*CredentialsFileModeError].
var ErrCredentialsFileMode = errors.New("proxy: credentials file readable by group or others")

// CredentialsFileModeError refuses a credentials file (source "file")
// that its group or other users may read or write: it holds the role's
// secret, which they could take (or replace). It matches
// [ErrCredentialsFileMode]. Mode is that of the opened file.
type CredentialsFileModeError struct {
	Path string
	Mode fs.FileMode // permission bits only
	// ACLEntry is the POSIX ACL entry that gives the access, as getfacl
	// writes it (user:1001:r--), or "" when the mode bits do.
	ACLEntry string
}

// Error names the file, its mode and the fix.
func (e *CredentialsFileModeError) Error() string {
	if e.ACLEntry != "" {
		a := boundedfile.Access{Perm: e.Mode, Open: true, ACLEntry: e.ACLEntry}
		return fmt.Sprintf("proxy: credentials file %s has mode %04o and the ACL entry %s: a user or group other than host-proxy's may read the role's secret; "+
			"%s, owned by the user host-proxy runs as", e.Path, uint32(e.Mode), e.ACLEntry, a.Fix(e.Path))
	}
	return fmt.Sprintf("proxy: credentials file %s has mode %04o: group or others may read the role's secret; "+
		"chmod 600 it, owned by the user host-proxy runs as", e.Path, uint32(e.Mode))
}

// Is reports whether target is [ErrCredentialsFileMode].
func (e *CredentialsFileModeError) Is(target error) bool { return target == ErrCredentialsFileMode }

func fileCredentials(path string) (Credentials, error) {
	// The mode is that of the file opened and read (fstat), so a file
	// swapped in after a check of path is checked itself. Windows has no
	// such bits to check.
	check := func(fi fs.FileInfo) error {
		if a := boundedfile.WhoCanAccess(fi); a.Open {
			return &CredentialsFileModeError{Path: path, Mode: a.Perm, ACLEntry: a.ACLEntry}
		}
		return nil
	}
	data, err := boundedfile.ReadCheck(path, maxCredsFile, check)
	if err != nil {
		return Credentials{}, err
	}
	var c Credentials
	if err := json.Unmarshal(data, &c); err != nil {
		// The decoder's message could quote the secret: leave it out.
		return Credentials{}, fmt.Errorf("%s: not a credentials JSON object", path)
	}
	if err := validCreds(c); err != nil {
		return Credentials{}, fmt.Errorf("%s: %v", path, err)
	}
	return c, nil
}

func envCredentials(env []string) (Credentials, error) {
	get := func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	c := Credentials{AccessKeyID: get("AWS_ACCESS_KEY_ID"), SecretAccessKey: get("AWS_SECRET_ACCESS_KEY"),
		Token: get("AWS_SESSION_TOKEN")}
	if err := validCreds(c); err != nil {
		return Credentials{}, fmt.Errorf("environment: %v (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", err)
	}
	return c, nil
}

// imdsSource fetches the instance role's credentials through IMDSv2: a
// session token (PUT /latest/api/token), the role name when not configured,
// then /latest/meta-data/iam/security-credentials/ROLE.
func imdsSource(base, role string) credSource {
	// No proxy from the environment: credentials go nowhere but IMDS.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	do := func(ctx context.Context, method, path, token string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
		if err != nil {
			return nil, err
		}
		if token == "" {
			req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "21600")
		} else {
			req.Header.Set("X-aws-ec2-metadata-token", token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("IMDS %s %s: HTTP %d", method, path, resp.StatusCode)
		}
		return body, nil
	}
	return func(ctx context.Context) (Credentials, error) {
		tok, err := do(ctx, http.MethodPut, "/latest/api/token", "")
		if err != nil {
			return Credentials{}, err
		}
		token := strings.TrimSpace(string(tok))
		r := role
		if r == "" {
			list, err := do(ctx, http.MethodGet, "/latest/meta-data/iam/security-credentials/", token)
			if err != nil {
				return Credentials{}, err
			}
			r, _, _ = strings.Cut(strings.TrimSpace(string(list)), "\n")
			if r == "" {
				return Credentials{}, errors.New("IMDS: the instance has no IAM role")
			}
		}
		body, err := do(ctx, http.MethodGet, "/latest/meta-data/iam/security-credentials/"+r, token)
		if err != nil {
			return Credentials{}, err
		}
		var resp struct {
			Code string
			Credentials
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return Credentials{}, fmt.Errorf("IMDS: role %s: malformed credentials document", r)
		}
		if resp.Code != "" && resp.Code != "Success" {
			return Credentials{}, fmt.Errorf("IMDS: role %s: code %q", r, resp.Code)
		}
		if err := validCreds(resp.Credentials); err != nil {
			return Credentials{}, fmt.Errorf("IMDS: role %s: %v", r, err)
		}
		return resp.Credentials, nil
	}
}
