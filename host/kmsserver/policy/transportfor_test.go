// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// transportForPolicies read the transport and time keys every way a
// policy can: each operator family, negated, Null, IfExists, set
// prefixes, other letter cases, in Allow and Deny statements, and none.
var transportForPolicies = []string{
	stmt(base),
	stmt(base + `,"Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`),
	stmt(base + `,"Condition":{"NotIpAddress":{"AWS:SOURCEIP":["10.0.0.0/8","2001:db8::/32"]}}`),
	stmt(base + `,"Condition":{"Null":{"aws:SourceIp":"true"}}`),
	stmt(base + `,"Condition":{"Bool":{"aws:SecureTransport":true}}`),
	stmt(base + `,"Condition":{"BoolIfExists":{"aws:securetransport":"false"}}`),
	stmt(base + `,"Condition":{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}`),
	stmt(base + `,"Condition":{"DateGreaterThanEquals":{"aws:EpochTime":"2026-12-07T13:00:00Z"}}`),
	stmt(base + `,"Condition":{"NumericLessThan":{"aws:EpochTime":1796603400},"StringEquals":{"aws:CurrentTime":"x"}}`),
	stmt(base + `,"Condition":{"ForAnyValue:StringLike":{"aws:SourceIp":"203.*"},"Null":{"aws:EpochTime":"false"}}`),
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
	 {"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
	 {"Sid":"Net","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"NotIpAddressIfExists":{"aws:SourceIp":"203.0.113.0/24"}}}]}`,
}

// transportRequests are the connections and times the check decides at:
// with and without TLS, IPv4, IPv4-mapped and IPv6 with a zone, a unix
// socket (no address), two times.
var transportRequests = []struct {
	source netip.Addr
	secure bool
	now    time.Time
}{
	{netip.MustParseAddr("203.0.113.7"), true, time.Unix(1796603400, 0)},
	{netip.MustParseAddr("::ffff:10.1.2.3"), false, time.Unix(1796603399, 999)},
	{netip.MustParseAddr("fe80::1%eth0"), true, time.Unix(1765112400, 0)},
	{netip.Addr{}, false, time.Unix(1796603400, 0)},
}

// checkTransportFor checks that ps decide a request with only the keys
// AddTransportFor adds exactly as with every key AddTransport adds, and
// that every key it adds has AddTransport's value.
func checkTransportFor(t *testing.T, ps ...*Policy) {
	t.Helper()
	for _, tr := range transportRequests {
		full := AddTransport(map[string][]string{"kms:EncryptionContext:a": {"b"}}, tr.source, tr.secure, tr.now)
		some := AddTransportFor(map[string][]string{"kms:EncryptionContext:a": {"b"}}, tr.source, tr.secure, tr.now, ps...)
		for k, v := range some {
			if !reflect.DeepEqual(full[k], v) {
				t.Fatalf("key %s is %q, want %q", k, v, full[k])
			}
		}
		for _, p := range ps {
			want := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: full})
			got := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: some})
			if got != want {
				t.Fatalf("%+v: decision %+v with the keys the policy reads, %+v with all", tr, got, want)
			}
		}
	}
}

// TestTransportForDecidesAsAll holds AddTransportFor to the promise the
// request path relies on: the policies it is given decide as with every
// transport key.
func TestTransportForDecidesAsAll(t *testing.T) {
	var parsed []*Policy
	for _, doc := range append(transportForPolicies, attForPolicies...) {
		parsed = append(parsed, mustParse(t, doc))
	}
	for i, p := range parsed {
		checkTransportFor(t, p)
		checkTransportFor(t, p, parsed[(i+3)%len(parsed)])
		checkTransportFor(t, nil, p)
	}
}

// TestTransportForAddsOnlyWhatIsRead: a policy without transport
// conditions gets no key; one reading aws:SourceIp (in another case) and
// aws:EpochTime gets those two; nil policies read nothing.
func TestTransportForAddsOnlyWhatIsRead(t *testing.T) {
	src, now := netip.MustParseAddr("203.0.113.7"), time.Unix(1796603400, 0)
	if got := AddTransportFor(nil, src, true, now, mustParse(t, stmt(base)), nil); got == nil || len(got) != 0 {
		t.Errorf("no transport conditions: %v", got)
	}
	p := mustParse(t, transportForPolicies[2])
	q := mustParse(t, transportForPolicies[7])
	got := AddTransportFor(nil, src, true, now, p, q)
	if len(got) != 2 || got[KeySourceIP][0] != "203.0.113.7" || got[KeyEpochTime][0] != "1796603400" {
		t.Errorf("aws:SourceIp and aws:EpochTime read: %v", got)
	}
	if got := AddTransportFor(map[string][]string{}, src, true, now); len(got) != 0 {
		t.Errorf("no policies: %v", got)
	}
}

// FuzzTransportForDecidesAsAll runs checkTransportFor on fuzzed policies.
func FuzzTransportForDecidesAsAll(f *testing.F) {
	for _, doc := range transportForPolicies {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if p, err := Parse(doc); err == nil {
			checkTransportFor(t, p)
		}
	})
}
