// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseConfigVsockProxyFormat(t *testing.T) {
	// vsock-proxy's own file: only an allowlist.
	cfg, err := ParseConfig([]byte(`allowlist:
- {address: kms.us-east-1.amazonaws.com, port: 443}
- {address: 10.0.0.0/8, port: 5432}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.AllowList) != 2 || cfg.AllowList[0].Address != "kms.us-east-1.amazonaws.com" || cfg.AllowList[1].Port != 5432 {
		t.Fatalf("allowlist = %+v", cfg.AllowList)
	}
}

func TestConfigErrors(t *testing.T) {
	const allow = "allowlist:\n  - {address: kms.example.com, port: 443}\n  - {address: 127.0.0.1, port: 8443}\n"
	tests := []struct {
		name  string
		yaml  string
		class error  // sentinel besides ErrInvalidConfig
		want  string // substring of the message
	}{
		{"unknown top-level field", allow + "rootes: []\n", ErrInvalidConfig, `line 4: unknown key "rootes" (did you mean "routes"?)`},
		{"unknown route field", allow + "routes:\n  - {name: a, direction: egress, listen: 'tcp://127.0.0.1:1', destination: 'tcp://kms.example.com:443', bogus: 1}\n",
			ErrInvalidConfig, `line 5: routes[0]: unknown key "bogus"`},
		{"unknown allowlist field", "allowlist:\n  - {address: a.example, port: 1, proto: tcp}\n", ErrInvalidConfig, `line 2: allowlist[0]: unknown key "proto"`},
		{"wrong type", "allowlist:\n  - {address: a.example, port: https}\n", ErrInvalidConfig, `line 2: allowlist[0].port: want a whole number, not "https"`},
		{"two documents", allow + "---\nallowlist: []\n", ErrInvalidConfig, "line 4: a second YAML document"},
		{"no routes", allow, ErrInvalidConfig, "no routes"},
		{"destination not allow-listed", allow + "routes:\n  - {name: s3, direction: egress, listen: 'vsock://any:8001', destination: 'tcp://s3.example.com:443'}\n",
			ErrNotAllowed, `route "s3": destination s3.example.com:443 is not in the allow-list; add "- {address: s3.example.com, port: 443}"`},
		{"wrong port", allow + "routes:\n  - {name: kms, direction: egress, listen: 'vsock://any:8001', destination: 'tcp://kms.example.com:444'}\n",
			ErrNotAllowed, `route "kms": destination kms.example.com:444 is not in the allow-list`},
		{"IP not allow-listed", allow + "routes:\n  - {name: ip, direction: egress, listen: 'vsock://any:8001', destination: 'tcp://127.0.0.2:8443'}\n",
			ErrNotAllowed, `route "ip": destination 127.0.0.2:8443 is not in the allow-list`},
		{"duplicate listen", allow + "routes:\n  - {name: a, direction: egress, listen: 'vsock://any:8000', destination: 'tcp://kms.example.com:443'}\n  - {name: b, direction: egress, listen: 'vsock://3:8000', destination: 'tcp://kms.example.com:443'}\n",
			ErrDuplicateListen, `route "b": listen address vsock://3:8000 is already used by route "a"`},
		{"duplicate tcp listen", allow + "routes:\n  - {name: a, direction: ingress, listen: 'tcp://127.0.0.1:9000', destination: 'vsock://16:5000'}\n  - {name: b, direction: ingress, listen: 'tcp://127.0.0.1:9000', destination: 'vsock://16:5001'}\n",
			ErrDuplicateListen, `route "b": listen address tcp://127.0.0.1:9000 is already used`},
		{"duplicate with admin", allow + "admin: 'tcp://127.0.0.1:9000'\nroutes:\n  - {name: a, direction: ingress, listen: 'tcp://127.0.0.1:9000', destination: 'vsock://16:5000'}\n",
			ErrDuplicateListen, `admin: listen address tcp://127.0.0.1:9000 is already used by route "a"`},
		{"bad listen", allow + "routes:\n  - {name: a, direction: egress, listen: 'vsock://3', destination: 'tcp://kms.example.com:443'}\n",
			ErrBadAddress, `route "a": listen: bad address "vsock://3": missing port`},
		{"bad destination", allow + "routes:\n  - {name: a, direction: ingress, listen: 'tcp://127.0.0.1:1', destination: 'unix://rel'}\n",
			ErrBadAddress, `route "a": destination: bad address "unix://rel"`},
		{"egress to vsock", allow + "routes:\n  - {name: a, direction: egress, listen: 'tcp://127.0.0.1:1', destination: 'vsock://3:5'}\n",
			ErrInvalidConfig, "an egress destination must be tcp://HOST:PORT"},
		{"bad direction", allow + "routes:\n  - {name: a, direction: sideways, listen: 'tcp://127.0.0.1:1', destination: 'vsock://3:5'}\n",
			ErrInvalidConfig, `direction "sideways"`},
		{"missing name", allow + "routes:\n  - {direction: ingress, listen: 'tcp://127.0.0.1:1', destination: 'vsock://3:5'}\n",
			ErrInvalidConfig, "routes[0]: missing name"},
		{"duplicate name", allow + "routes:\n  - {name: a, direction: ingress, listen: 'tcp://127.0.0.1:1', destination: 'vsock://3:5'}\n  - {name: a, direction: ingress, listen: 'tcp://127.0.0.1:2', destination: 'vsock://3:5'}\n",
			ErrInvalidConfig, `route "a": duplicate route name`},
		{"bad ip_version", allow + "routes:\n  - {name: a, direction: egress, ip_version: 5, listen: 'tcp://127.0.0.1:1', destination: 'tcp://kms.example.com:443'}\n",
			ErrInvalidConfig, "ip_version 5"},
		{"negative max", allow + "routes:\n  - {name: a, direction: egress, max_connections: -1, listen: 'tcp://127.0.0.1:1', destination: 'tcp://kms.example.com:443'}\n",
			ErrInvalidConfig, "max_connections: -1 out of range"},
		{"huge max", allow + "max_connections: 99999999999\nroutes:\n  - {name: a, direction: ingress, listen: 'tcp://127.0.0.1:1', destination: 'vsock://3:5'}\n",
			ErrInvalidConfig, "max_connections: 99999999999 out of range 0-1048576"},
		{"bad allowlist port", "allowlist:\n  - {address: a.example, port: 0}\nroutes: []\n", ErrInvalidConfig, "allowlist[0]: port 0 out of range"},
		{"bad allowlist address", "allowlist:\n  - {address: 'not a name', port: 1}\n", ErrInvalidConfig, "allowlist[0]: \"not a name\" is neither"},
		{"bad allowlist cidr", "allowlist:\n  - {address: 10.0.0.0/33, port: 1}\n", ErrInvalidConfig, "not a valid CIDR prefix"},
		{"admin not local", allow + "admin: 'tcp://0.0.0.0:9102'\nroutes:\n  - {name: a, direction: ingress, listen: 'tcp://127.0.0.1:1', destination: 'vsock://3:5'}\n",
			ErrInvalidConfig, "admin endpoint must be on localhost"},
		{"negative duration", allow + "idle_timeout: -1s\nroutes:\n  - {name: a, direction: ingress, listen: 'tcp://127.0.0.1:1', destination: 'vsock://3:5'}\n",
			ErrInvalidConfig, "idle_timeout: negative duration"},
		{"bad duration", allow + "idle_timeout: soon\n", ErrInvalidConfig, `line 4: idle_timeout: want a duration such as 500ms, 30s or 5m, not "soon"`},
		{"egress on any tcp", allow + "routes:\n  - {name: imds, direction: egress, listen: 'tcp://0.0.0.0:8000', destination: 'tcp://kms.example.com:443'}\n",
			ErrInvalidConfig, `proxy: line 5: route "imds": listen tcp://0.0.0.0:8000 is reachable from the network, and an egress route relays whoever connects to its allow-listed destination, unauthenticated; use vsock://any:PORT for the enclave, or unix:///PATH or a loopback address (tcp://127.0.0.1:PORT) for local tests`},
		{"egress on any tcp6", allow + "routes:\n  - {name: a, direction: egress, listen: 'tcp://[::]:8000', destination: 'tcp://kms.example.com:443'}\n",
			ErrInvalidConfig, `route "a": listen tcp://[::]:8000 is reachable from the network, and an egress route relays`},
		{"egress on an interface", allow + "routes:\n  - {name: a, direction: egress, listen: '10.0.0.5:8000', destination: 'tcp://kms.example.com:443'}\n",
			ErrInvalidConfig, `route "a": listen tcp://10.0.0.5:8000 is reachable from the network, and an egress route relays`},
		{"egress on a host name", allow + "routes:\n  - {name: a, direction: egress, listen: 'tcp://parent.example:8000', destination: 'tcp://kms.example.com:443'}\n",
			ErrInvalidConfig, `route "a": listen tcp://parent.example:8000 is reachable from the network, and an egress route relays`},
		{"allowed_cids on tcp", allow + "routes:\n  - {name: a, direction: egress, allowed_cids: [16], listen: 'tcp://127.0.0.1:1', destination: 'tcp://kms.example.com:443'}\n",
			ErrInvalidConfig, `route "a": allowed_cids needs a vsock listen address, not tcp://127.0.0.1:1`},
		{"credentials allowed_cids on unix", "credentials: {listen: 'unix:///run/c.sock', source: env, allowed_cids: [16]}\n",
			ErrInvalidConfig, "credentials: allowed_cids needs a vsock listen address"},
		{"credentials on loopback tcp", "credentials:\n  source: imds\n  listen: 'tcp://127.0.0.1:8003'\n", ErrInvalidConfig,
			"proxy: line 3: credentials.listen: tcp://127.0.0.1:8003: a TCP listener serves the role's credentials to every local process"},
		{"credentials on any tcp", "credentials: {listen: 'tcp://0.0.0.0:8003', source: env}\n", ErrInvalidConfig,
			"proxy: line 1: credentials.listen: tcp://0.0.0.0:8003: a TCP listener serves the role's credentials to every local process"},
		{"time on loopback tcp", "time:\n  listen: 'tcp://127.0.0.1:8004'\n", ErrInvalidConfig,
			"proxy: line 2: time.listen: tcp://127.0.0.1:8004: a TCP listener serves the parent's clock to every local process, never to the enclave (it reaches the parent over vsock only); use vsock://any:PORT with allowed_cids for the enclave, or unix:///PATH for local tests"},
		{"logs on loopback tcp", "logs: {listen: 'tcp://[::1]:8005'}\n", ErrInvalidConfig,
			"proxy: line 1: logs.listen: tcp://[::1]:8005: a TCP listener takes log lines from every local process, of any user, as the enclave's, and never from the enclave (it reaches the parent over vsock only)"},
		{"logs on any tcp", "logs:\n  max_lines_per_second: 10\n  listen: '0.0.0.0:8005'\n", ErrInvalidConfig,
			"proxy: line 3: logs.listen: tcp://0.0.0.0:8005: a TCP listener takes log lines from every local process"},
		{"credentials vsock without allowed_cids", "credentials:\n  listen: 'vsock://any:8003'\n  source: imds\n", ErrInvalidConfig,
			"proxy: line 1: credentials: listen vsock://any:8003 needs allowed_cids: the enclave CIDs served (any enclave on the parent could otherwise fetch the role's credentials)"},
		{"credentials vsock with empty allowed_cids", "credentials: {listen: 'vsock://any:8003', source: env, allowed_cids: []}\n", ErrInvalidConfig,
			"proxy: line 1: credentials: listen vsock://any:8003 needs allowed_cids"},
		{"credentials source", "credentials: {listen: 'vsock://any:8003', source: magic, allowed_cids: [16]}\n", ErrInvalidConfig, `credentials: source "magic"`},
		{"credentials file missing", "credentials: {listen: 'vsock://any:8003', source: file, allowed_cids: [16]}\n", ErrInvalidConfig, "source file needs file:"},
		{"credentials bad imds", "credentials: {listen: 'vsock://any:8003', source: imds, imds_url: 'ftp://x', allowed_cids: [16]}\n", ErrInvalidConfig, "imds_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tt.yaml))
			if err == nil {
				_, err = New(cfg)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("%v: does not match ErrInvalidConfig", err)
			}
			if !errors.Is(err, tt.class) {
				t.Errorf("%v: does not match %v", err, tt.class)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("%T: no *ConfigError inside", err)
			}
		})
	}
}

func TestConfigErrorsAggregate(t *testing.T) {
	cfg, err := ParseConfig([]byte(`allowlist: [{address: a.example, port: 1}]
routes:
  - {name: x, direction: egress, listen: 'tcp://127.0.0.1:1', destination: 'tcp://b.example:1'}
  - {name: y, direction: egress, listen: 'tcp://127.0.0.1:1', destination: 'tcp://a.example:1'}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg)
	var errs ConfigErrors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("want 2 aggregated errors, got %v", err)
	}
	if !errors.Is(errs[0], ErrNotAllowed) || !errors.Is(errs[1], ErrDuplicateListen) {
		t.Errorf("classes: %v / %v", errs[0], errs[1])
	}
}

func TestValidConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(`allowlist:
  - {address: KMS.Example.com., port: 443}
  - {address: 10.0.0.0/8, port: 5432}
  - {address: "::1", port: 8443}
routes:
  - {name: kms, direction: egress, listen: 'vsock://any:8000', destination: 'tcp://kms.example.com:443', max_connections: 64, allowed_cids: [16, 17]}
  - {name: db, direction: egress, listen: 'vsock://any:8001', destination: 'tcp://10.1.2.3:5432', ip_version: 4}
  - {name: local, direction: egress, listen: 'unix:///run/x.sock', destination: 'tcp://[::1]:8443'}
  - {name: attest, direction: ingress, listen: 'tcp://0.0.0.0:8443', destination: 'vsock://16:5005'}
  - {name: lo4, direction: egress, listen: 'tcp://127.0.0.1:8101', destination: 'tcp://kms.example.com:443'}
  - {name: lo6, direction: egress, listen: 'tcp://[::1]:8102', destination: 'tcp://kms.example.com:443'}
  - {name: lohost, direction: egress, listen: 'localhost:8103', destination: 'tcp://kms.example.com:443'}
credentials: {listen: 'vsock://any:8003', source: imds, allowed_cids: [16]}
admin: 'tcp://127.0.0.1:9102'
dns_refresh: 10s
idle_timeout: 2m
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.cfg.DNSRefresh.Seconds() != 10 || p.cfg.ConnectTimeout != DefaultConnectTimeout {
		t.Errorf("durations: %v %v", p.cfg.DNSRefresh, p.cfg.ConnectTimeout)
	}
	if cap(p.routes[0].sem) != 64 || cap(p.routes[1].sem) != DefaultMaxConnections {
		t.Errorf("limits: %d %d", cap(p.routes[0].sem), cap(p.routes[1].sem))
	}
	if p.routes[0].dns == nil || p.routes[1].dns != nil || p.routes[2].dns != nil {
		t.Errorf("dns caches: only the named destination resolves")
	}
}

func TestCheckResolved(t *testing.T) {
	al, errs := compileAllowList([]AllowEntry{
		{Address: "kms.example.com", Port: 443},
		{Address: "127.0.0.1", Port: 8443},
		{Address: "10.0.0.0/8", Port: 5432},
		{Address: "169.254.169.254", Port: 80},
	})
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		name, ip string
		port     int
		want     string // "" allowed, else substring
	}{
		{"kms.example.com", "192.0.2.10", 443, ""},
		{"KMS.example.com.", "2001:db8::1", 443, ""},
		{"kms.example.com", "192.0.2.10", 444, "not in the allow-list"},
		{"other.example.com", "192.0.2.10", 443, "not in the allow-list"},
		{"kms.example.com", "127.0.0.2", 443, "a loopback address"},
		{"kms.example.com", "169.254.169.254", 443, "link-local (instance metadata)"},
		{"kms.example.com", "fd00:ec2::254", 443, "link-local (instance metadata)"},
		{"kms.example.com", "0.0.0.0", 443, "unspecified"},
		{"kms.example.com", "224.0.0.1", 443, "multicast"},
		{"kms.example.com", "::ffff:127.0.0.1", 443, "a loopback address"},
		{"local.test", "127.0.0.1", 8443, ""},        // explicit IP entry
		{"local.test", "::ffff:127.0.0.1", 8443, ""}, // mapped form of the same
		{"db.internal", "10.9.8.7", 5432, ""},        // CIDR entry
		{"db.internal", "11.0.0.1", 5432, "not in the allow-list"},
		{"imds.test", "169.254.169.254", 80, ""}, // explicitly listed
	}
	for _, tt := range tests {
		got := al.checkResolved(tt.name, netip.MustParseAddr(tt.ip), tt.port)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("checkResolved(%s, %s, %d) = %q, want %q", tt.name, tt.ip, tt.port, got, tt.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("allowlist:\n  - {address: kms.example.com, port: 443}\nroutes:\n  - {name: kms, direction: egress, listen: 'vsock://any:8000', destination: 'tcp://kms.example.com:443'}\n"))
	f.Add([]byte("credentials: {listen: 'vsock://any:8003', source: env, allowed_cids: [16]}\nadmin: 'tcp://127.0.0.1:1'\n"))
	// Refused credentials listeners: vsock without allowed_cids, TCP,
	// loopback or not.
	f.Add([]byte("credentials: {listen: 'vsock://any:8003', source: env}\nadmin: 'tcp://127.0.0.1:1'\n"))
	f.Add([]byte("credentials: {listen: 'vsock://3:8003', source: imds, allowed_cids: []}\n"))
	f.Add([]byte("credentials: {listen: 'tcp://127.0.0.1:0', source: env}\n"))
	f.Add([]byte("credentials:\n  listen: tcp://[::1]:8003\n  source: imds\n"))
	f.Add([]byte("credentials: {listen: 'tcp://0.0.0.0:8003', source: file, file: /run/c.json}\n"))
	// Refused time and logs listeners: TCP, loopback or not.
	f.Add([]byte("time: {listen: 'tcp://127.0.0.1:0'}\n"))
	f.Add([]byte("logs:\n  listen: localhost:8005\n  max_lines_per_second: 5\n"))
	f.Add([]byte("allowlist: [{address: 10.0.0.0/8, port: 1}]\nroutes: [{name: a, direction: ingress, listen: 'tcp://127.0.0.1:1', destination: 'unix:///x'}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("ParseConfig error %v does not match ErrInvalidConfig", err)
			}
			return
		}
		cfg.Environ = []string{}
		if _, err := New(cfg); err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("New error %v does not match ErrInvalidConfig", err)
		}
	})
}
