// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestTypedOperators checks Numeric*, Date*, IpAddress/NotIpAddress and
// Arn* as TestConditionOperators checks the string operators: in an Allow
// statement and, for the same condition, in a Deny statement beside an
// unconditional Allow. Every operator has a match, a mismatch, a missing key
// and (where it applies) a request value of the wrong type.
func TestTypedOperators(t *testing.T) {
	ec := "kms:EncryptionContext:n"
	tests := []struct {
		name  string
		cond  string
		ctx   map[string][]string
		allow bool // the Allow statement grants
		deny  bool // the Deny statement applies
	}{
		{"NumericEquals match", `{"NumericEquals":{"` + ec + `":"10"}}`, ctxOf(ec, "10.0"), true, true},
		{"NumericEquals mismatch", `{"NumericEquals":{"` + ec + `":10}}`, ctxOf(ec, "11"), false, false},
		{"NumericEquals one of", `{"NumericEquals":{"` + ec + `":[1,2,3]}}`, ctxOf(ec, "2"), true, true},
		{"NumericEquals missing", `{"NumericEquals":{"` + ec + `":10}}`, nil, false, false},
		{"NumericEquals not a number", `{"NumericEquals":{"` + ec + `":10}}`, ctxOf(ec, "ten"), false, true},
		{"NumericEquals exponent refused", `{"NumericEquals":{"` + ec + `":10}}`, ctxOf(ec, "1e1"), false, true},
		{"NumericNotEquals differs", `{"NumericNotEquals":{"` + ec + `":10}}`, ctxOf(ec, "11"), true, true},
		{"NumericNotEquals equal", `{"NumericNotEquals":{"` + ec + `":10}}`, ctxOf(ec, "10"), false, false},
		{"NumericNotEquals missing holds", `{"NumericNotEquals":{"` + ec + `":10}}`, nil, true, true},
		{"NumericNotEquals not a number", `{"NumericNotEquals":{"` + ec + `":10}}`, ctxOf(ec, "x"), false, true},
		{"NumericLessThan below", `{"NumericLessThan":{"` + ec + `":10}}`, ctxOf(ec, "-3.5"), true, true},
		{"NumericLessThan equal", `{"NumericLessThan":{"` + ec + `":10}}`, ctxOf(ec, "10"), false, false},
		{"NumericLessThan missing", `{"NumericLessThan":{"` + ec + `":10}}`, nil, false, false},
		{"NumericLessThanEquals equal", `{"NumericLessThanEquals":{"` + ec + `":10}}`, ctxOf(ec, "10"), true, true},
		{"NumericLessThanEquals above", `{"NumericLessThanEquals":{"` + ec + `":10}}`, ctxOf(ec, "10.01"), false, false},
		{"NumericGreaterThan above", `{"NumericGreaterThan":{"` + ec + `":10}}`, ctxOf(ec, "11"), true, true},
		{"NumericGreaterThan equal", `{"NumericGreaterThan":{"` + ec + `":10}}`, ctxOf(ec, "10"), false, false},
		{"NumericGreaterThanEquals equal", `{"NumericGreaterThanEquals":{"` + ec + `":10}}`, ctxOf(ec, "10"), true, true},
		{"NumericGreaterThanEquals below", `{"NumericGreaterThanEquals":{"` + ec + `":10}}`, ctxOf(ec, "9"), false, false},
		{"NumericGreaterThanEquals missing", `{"NumericGreaterThanEquals":{"` + ec + `":10}}`, nil, false, false},
		{"NumericLessThanIfExists missing", `{"NumericLessThanIfExists":{"` + ec + `":10}}`, nil, true, true},
		{"NumericLessThanIfExists present above", `{"NumericLessThanIfExists":{"` + ec + `":10}}`, ctxOf(ec, "12"), false, false},

		{"DateEquals ISO vs epoch", `{"DateEquals":{"aws:CurrentTime":"2026-12-07T00:30:00Z"}}`, ctxOf(KeyCurrentTime, "1796603400"), true, true},
		{"DateEquals zone offset", `{"DateEquals":{"aws:CurrentTime":"2026-12-07T01:30:00+01:00"}}`, ctxOf(KeyCurrentTime, "2026-12-07T00:30:00Z"), true, true},
		{"DateEquals mismatch", `{"DateEquals":{"aws:CurrentTime":"2026-12-07T00:30:00Z"}}`, ctxOf(KeyCurrentTime, "2026-12-07T00:30:01Z"), false, false},
		{"DateEquals missing", `{"DateEquals":{"aws:CurrentTime":"2026-12-07"}}`, nil, false, false},
		{"DateEquals not a date", `{"DateEquals":{"` + ec + `":"2026-12-07"}}`, ctxOf(ec, "yesterday"), false, true},
		{"DateNotEquals differs", `{"DateNotEquals":{"aws:CurrentTime":"2026-12-07"}}`, ctxOf(KeyCurrentTime, "2026-12-07T00:00:01Z"), true, true},
		{"DateNotEquals equal", `{"DateNotEquals":{"aws:CurrentTime":"2026-12-07"}}`, ctxOf(KeyCurrentTime, "2026-12-07T00:00:00Z"), false, false},
		{"DateNotEquals missing holds", `{"DateNotEquals":{"aws:CurrentTime":"2026-12-07"}}`, nil, true, true},
		{"DateLessThan before", `{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}`, ctxOf(KeyCurrentTime, "2026-12-07T00:30:00Z"), true, true},
		{"DateLessThan at", `{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}`, ctxOf(KeyCurrentTime, "2027-01-01T00:00:00Z"), false, false},
		{"DateLessThan epoch key", `{"DateLessThan":{"aws:EpochTime":"1798761600"}}`, ctxOf(KeyEpochTime, "1796603400"), true, true},
		{"DateLessThan missing", `{"DateLessThan":{"aws:CurrentTime":"2027-01-01"}}`, nil, false, false},
		{"DateLessThanEquals at", `{"DateLessThanEquals":{"aws:CurrentTime":"2027-01-01"}}`, ctxOf(KeyCurrentTime, "2027-01-01T00:00:00Z"), true, true},
		{"DateLessThanEquals after", `{"DateLessThanEquals":{"aws:CurrentTime":"2027-01-01"}}`, ctxOf(KeyCurrentTime, "2027-01-01T00:00:01Z"), false, false},
		{"DateGreaterThan after", `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}`, ctxOf(KeyCurrentTime, "2026-12-07T00:30:00Z"), true, true},
		{"DateGreaterThan before", `{"DateGreaterThan":{"aws:CurrentTime":"2027-01-01"}}`, ctxOf(KeyCurrentTime, "2026-12-07T00:30:00Z"), false, false},
		{"DateGreaterThanEquals at", `{"DateGreaterThanEquals":{"aws:EpochTime":1796603400}}`, ctxOf(KeyEpochTime, "1796603400"), true, true},
		{"DateGreaterThanEquals before", `{"DateGreaterThanEquals":{"aws:EpochTime":1796603400}}`, ctxOf(KeyEpochTime, "1796603399"), false, false},
		{"DateGreaterThanEquals missing", `{"DateGreaterThanEquals":{"aws:EpochTime":1796603400}}`, nil, false, false},

		{"IpAddress in CIDR", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctxOf(KeySourceIP, "203.0.113.7"), true, true},
		{"IpAddress outside", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctxOf(KeySourceIP, "203.0.114.7"), false, false},
		{"IpAddress one of", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","203.0.113.0/24"]}}`, ctxOf(KeySourceIP, "10.1.2.3"), true, true},
		{"IpAddress single address", `{"IpAddress":{"aws:SourceIp":"127.0.0.1"}}`, ctxOf(KeySourceIP, "127.0.0.1"), true, true},
		{"IpAddress host bits cleared", `{"IpAddress":{"aws:SourceIp":"203.0.113.9/24"}}`, ctxOf(KeySourceIP, "203.0.113.200"), true, true},
		{"IpAddress IPv6", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, ctxOf(KeySourceIP, "2001:db8:1::5"), true, true},
		{"IpAddress v4-mapped request", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctxOf(KeySourceIP, "::ffff:203.0.113.7"), true, true},
		{"IpAddress family differs", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, ctxOf(KeySourceIP, "::1"), false, false},
		{"IpAddress missing", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, nil, false, false},
		{"IpAddress not an address", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, ctxOf(KeySourceIP, "localhost"), false, true},
		{"NotIpAddress outside", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctxOf(KeySourceIP, "198.51.100.1"), true, true},
		{"NotIpAddress inside", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctxOf(KeySourceIP, "203.0.113.1"), false, false},
		{"NotIpAddress missing holds", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, nil, true, true},
		{"NotIpAddress not an address", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctxOf(KeySourceIP, "x"), false, true},

		{"ArnEquals exact", `{"ArnEquals":{"aws:PrincipalArn":"` + role + `"}}`, nil, true, true},
		{"ArnEquals wildcard part", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}`, nil, true, true},
		{"ArnEquals other account", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::444455556666:role/*"}}`, nil, false, false},
		{"ArnEquals case-sensitive", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Data-Processing"}}`, nil, false, false},
		{"ArnLike per part", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/data-*"}}`, nil, true, true},
		{"ArnLike resource with colons", `{"ArnLike":{"` + ec + `":"arn:aws:kms:*:111122223333:key/*"}}`, ctxOf(ec, "arn:aws:kms:us-east-1:111122223333:key/a:b"), true, true},
		{"ArnLike missing", `{"ArnLike":{"` + ec + `":"arn:aws:kms:*:*:*"}}`, nil, false, false},
		{"ArnLike not an ARN", `{"ArnLike":{"` + ec + `":"arn:aws:kms:*:*:*"}}`, ctxOf(ec, "key/1"), false, true},
		{"ArnNotEquals other", `{"ArnNotEquals":{"aws:PrincipalArn":"` + otherArn + `"}}`, nil, true, true},
		{"ArnNotEquals same", `{"ArnNotEquals":{"aws:PrincipalArn":"` + role + `"}}`, nil, false, false},
		{"ArnNotEquals missing holds", `{"ArnNotEquals":{"` + ec + `":"` + role + `"}}`, nil, true, true},
		{"ArnNotLike other", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::444455556666:*"}}`, nil, true, true},
		{"ArnNotLike matches", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:*"}}`, nil, false, false},
		{"ArnNotLike not an ARN", `{"ArnNotLike":{"` + ec + `":"arn:aws:iam::111122223333:*"}}`, ctxOf(ec, "nope"), false, true},

		{"Bool SecureTransport true", `{"Bool":{"aws:SecureTransport":"true"}}`, ctxOf(KeySecureTransport, "true"), true, true},
		{"Bool SecureTransport false", `{"Bool":{"aws:SecureTransport":true}}`, ctxOf(KeySecureTransport, "false"), false, false},
		{"StringEquals RequestAlias", `{"StringEquals":{"kms:RequestAlias":"alias/prod"}}`, ctxOf(KeyRequestAlias, "alias/prod"), true, true},
		{"StringEquals RequestAlias missing", `{"StringEquals":{"kms:RequestAlias":"alias/prod"}}`, nil, false, false},
		{"ForAnyValue ResourceAliases", `{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/prod-*"}}`, ctxOf(KeyResourceAliases, "alias/a", KeyResourceAliases, "alias/prod-1"), true, true},
		{"ForAnyValue ResourceAliases none", `{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/prod-*"}}`, ctxOf(KeyResourceAliases, "alias/a"), false, false},
		{"ForAllValues ResourceAliases extra", `{"ForAllValues:StringLike":{"kms:ResourceAliases":"alias/prod-*"}}`, ctxOf(KeyResourceAliases, "alias/a", KeyResourceAliases, "alias/prod-1"), false, false},
		{"ForAnyValue numeric", `{"ForAnyValue:NumericGreaterThan":{"kms:ResourceAliases":"5"}}`, ctxOf(KeyResourceAliases, "1", KeyResourceAliases, "7"), true, true},
		{"ForAnyValue numeric one unreadable", `{"ForAnyValue:NumericGreaterThan":{"kms:ResourceAliases":"5"}}`, ctxOf(KeyResourceAliases, "7", KeyResourceAliases, "x"), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allow := mustParse(t, stmt(`"Sid":"A","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":`+tt.cond))
			req := Request{Principal: role, Action: "kms:Decrypt", Resource: keyARN, Context: tt.ctx}
			d := allow.Evaluate(req)
			if d.Allowed != tt.allow {
				t.Errorf("Allow statement: Allowed = %v, want %v (reason %q)", d.Allowed, tt.allow, d.Reason)
			}
			if !d.Allowed && !strings.Contains(d.Reason, `(statement "A")`) {
				t.Errorf("reason %q does not name the statement", d.Reason)
			}
			deny := mustParse(t, `{"Version":"2012-10-17","Statement":[
				{"Sid":"All","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
				{"Sid":"D","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":`+tt.cond+`}]}`)
			d = deny.Evaluate(req)
			if d.ExplicitDeny != tt.deny || d.Allowed == tt.deny {
				t.Errorf("Deny statement: %+v, want deny applied = %v", d, tt.deny)
			}
		})
	}
}

// TestTypedOperatorParseErrors: a policy value that is not of the
// operator's type is malformed at Parse, not a condition that never holds.
func TestTypedOperatorParseErrors(t *testing.T) {
	tests := []struct {
		op, key, value, msg string
	}{
		{"NumericEquals", "kms:EncryptionContext:n", `"ten"`, "must be a number"},
		{"NumericNotEquals", "kms:EncryptionContext:n", `"1e3"`, "must be a number"},
		{"NumericLessThan", "kms:EncryptionContext:n", `"0x10"`, "must be a number"},
		{"NumericLessThanEquals", "kms:EncryptionContext:n", `"1."`, "must be a number"},
		{"NumericGreaterThan", "kms:EncryptionContext:n", `"NaN"`, "must be a number"},
		{"NumericGreaterThanEquals", "kms:EncryptionContext:n", `"Inf"`, "must be a number"},
		{"DateEquals", "aws:CurrentTime", `"12/07/2026"`, "must be an ISO 8601 date"},
		{"DateNotEquals", "aws:CurrentTime", `"2026-13-01"`, "must be an ISO 8601 date"},
		{"DateLessThan", "aws:CurrentTime", `"2026-12-07T00:30:00"`, "must be an ISO 8601 date"},
		{"DateLessThanEquals", "aws:CurrentTime", `"-1"`, "must be an ISO 8601 date"},
		{"DateGreaterThan", "aws:EpochTime", `"99999999999999"`, "must be an ISO 8601 date"},
		{"DateGreaterThanEquals", "aws:EpochTime", `true`, "must be an ISO 8601 date"},
		{"IpAddress", "aws:SourceIp", `"203.0.113.0/33"`, "must be an IP address or CIDR block"},
		{"NotIpAddress", "aws:SourceIp", `"example.com"`, "must be an IP address or CIDR block"},
		{"IpAddress", "aws:SourceIp", `"fe80::1%eth0"`, "must be an IP address or CIDR block"},
		{"ArnEquals", "aws:PrincipalArn", `"111122223333"`, "must be an ARN"},
		{"ArnNotEquals", "aws:PrincipalArn", `"arn:aws:iam"`, "must be an ARN"},
		{"ArnLike", "aws:PrincipalArn", `"ARN:aws:iam::1:root"`, "must be an ARN"},
		{"ArnNotLikeIfExists", "aws:PrincipalArn", `["arn:aws:iam::1:root","x"]`, "ArnNotLike value must be an ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.op+" "+tt.value, func(t *testing.T) {
			p, err := Parse([]byte(stmt(base + `,"Condition":{"` + tt.op + `":{"` + tt.key + `":` + tt.value + `}}`)))
			var pe *ParseError
			if p != nil || !errors.Is(err, ErrMalformed) || !errors.As(err, &pe) || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("Parse = %v, want ErrMalformed with %q", err, tt.msg)
			}
			if !strings.HasSuffix(pe.Path, "."+tt.key) {
				t.Errorf("error path %q does not name the key", pe.Path)
			}
		})
	}
	// Operators and keys the engine still does not know are refused.
	for _, c := range []string{
		`{"BinaryEquals":{"kms:EncryptionContext:n":"AQ=="}}`,
		`{"IpAddress":{"aws:VpcSourceIp":"10.0.0.0/8"}}`,
		`{"StringEquals":{"aws:SourceVpce":"vpce-1"}}`,
		`{"NumericLessThanEqualsX":{"aws:EpochTime":"1"}}`,
		`{"ForAllValues:IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`,
	} {
		if _, err := Parse([]byte(stmt(base + `,"Condition":` + c))); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Parse(%s) = %v, want ErrUnsupported", c, err)
		}
	}
}

func TestTypedReasons(t *testing.T) {
	p := mustParse(t, stmt(`"Sid":"A",`+base+`,"Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`))
	d := p.Evaluate(Request{Principal: role, Action: "kms:Decrypt", Context: ctxOf(KeySourceIP, "198.51.100.1")})
	want := `condition IpAddress aws:SourceIp: expected an address in "203.0.113.0/24", presented "198.51.100.1" (statement "A")`
	if d.Allowed || d.Reason != want {
		t.Fatalf("reason %q, want %q", d.Reason, want)
	}
}

func TestAddTransport(t *testing.T) {
	now := time.Date(2026, 12, 7, 1, 30, 0, 999, time.FixedZone("x", 3600))
	ctx := AddTransport(nil, netip.MustParseAddr("::ffff:127.0.0.1"), true, now)
	want := map[string]string{KeySourceIP: "127.0.0.1", KeySecureTransport: "true", KeyCurrentTime: "2026-12-07T00:30:00Z", KeyEpochTime: "1796603400"}
	for k, v := range want {
		if got := ctx[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	ctx = AddTransport(nil, netip.Addr{}, false, now)
	if _, ok := ctx[KeySourceIP]; ok || ctx[KeySecureTransport][0] != "false" {
		t.Errorf("without an address: %v", ctx)
	}
}
