// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"strings"
)

type principalKind uint8

const (
	principalAny     principalKind = iota // "*"
	principalAccount                      // "111122223333" or "arn:aws:iam::111122223333:root"
	principalARN                          // an IAM or STS ARN, matched exactly
	principalService                      // a service principal, e.g. "ec2.amazonaws.com"
)

type principal struct {
	kind      principalKind
	partition string // principalAccount from a root ARN; "" for a bare account ID
	account   string
	value     string // principalARN, principalService
}

// arnParts splits an ARN into its six fields.
type arnParts struct {
	partition, service, region, account, resource string
}

func splitARN(s string) (arnParts, bool) {
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[1] == "" || f[2] == "" || f[5] == "" {
		return arnParts{}, false
	}
	return arnParts{partition: f[1], service: f[2], region: f[3], account: f[4], resource: f[5]}, true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parsePrincipal(v *jval, path, version string) ([]principal, error) {
	switch v.kind {
	case jString:
		if v.s != "*" {
			return nil, malformed(path, `must be "*" or an object such as {"AWS": "arn:aws:iam::111122223333:root"}`)
		}
		return []principal{{kind: principalAny}}, nil
	case jObject:
	default:
		return nil, malformed(path, "must be \"*\" or an object, not %s", v.kind)
	}
	if len(v.obj) == 0 {
		return nil, malformed(path, "empty Principal object")
	}
	var out []principal
	for i := range v.obj {
		m := &v.obj[i]
		mpath := path + "." + m.key
		list, err := stringList(&m.val, mpath)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			// Taken literally, a variable would name nobody, and a Deny
			// naming it would not apply.
			if err := checkVariables(s, mpath, version); err != nil {
				return nil, err
			}
		}
		switch m.key {
		case "AWS":
			for _, s := range list {
				p, err := parseAWSPrincipal(s, mpath)
				if err != nil {
					return nil, err
				}
				out = append(out, p)
			}
		case "Service":
			for _, s := range list {
				if s == "" || strings.ContainsAny(s, "*?:") {
					return nil, malformed(mpath, "invalid service principal %q", s)
				}
				out = append(out, principal{kind: principalService, value: s})
			}
		case "Federated", "CanonicalUser":
			return nil, unsupported(mpath, "%s principals are not supported", m.key)
		default:
			return nil, unknownElement(path, m.key, "AWS, Service")
		}
	}
	return out, nil
}

func parseAWSPrincipal(s, path string) (principal, error) {
	if s == "*" {
		return principal{kind: principalAny}, nil
	}
	if isAccountID(s) {
		return principal{kind: principalAccount, account: s}, nil
	}
	if strings.ContainsAny(s, "*?") {
		return principal{}, malformed(path, "invalid principal %q: wildcards are only allowed as the whole value \"*\"", s)
	}
	a, ok := splitARN(s)
	if !ok || (a.service != "iam" && a.service != "sts") || a.region != "" || !isAccountID(a.account) {
		return principal{}, malformed(path, "invalid principal %q (want \"*\", a 12-digit account ID or an IAM/STS ARN)", s)
	}
	if a.service == "iam" && a.resource == "root" {
		return principal{kind: principalAccount, partition: a.partition, account: a.account}, nil
	}
	return principal{kind: principalARN, value: s}, nil
}

// matches reports whether the request principal (an ARN, or a service
// principal name) is covered by p.
func (p *principal) matches(req string) bool {
	switch p.kind {
	case principalAny:
		return true
	case principalService:
		return req == p.value
	case principalAccount:
		a, ok := splitARN(req)
		return ok && a.account == p.account && (p.partition == "" || a.partition == p.partition)
	default:
		if req == p.value {
			return true
		}
		return assumedRoleOf(req, p.value)
	}
}

// assumedRoleOf reports whether req, an STS assumed-role session ARN
// (arn:aws:sts::111122223333:assumed-role/NAME/SESSION), is a session of the
// IAM role roleARN (arn:aws:iam::111122223333:role/[PATH/]NAME), as AWS
// matches a role principal against its sessions. Role names are unique
// within an account whatever their path.
func assumedRoleOf(req, roleARN string) bool {
	r, ok := splitARN(req)
	if !ok || r.service != "sts" || !strings.HasPrefix(r.resource, "assumed-role/") {
		return false
	}
	name, _, ok := strings.Cut(strings.TrimPrefix(r.resource, "assumed-role/"), "/")
	if !ok || name == "" {
		return false
	}
	p, ok := splitARN(roleARN)
	if !ok || p.service != "iam" || !strings.HasPrefix(p.resource, "role/") ||
		p.partition != r.partition || p.account != r.account {
		return false
	}
	return p.resource[strings.LastIndexByte(p.resource, '/')+1:] == name
}

// IsAssumedRoleSession reports whether arn is an STS assumed-role session
// ARN (arn:aws:sts::111122223333:assumed-role/NAME/SESSION), in any letter
// case: what could name a session is treated as one (fail closed). A
// session's aws:PrincipalArn is its role's ARN, which the session ARN does
// not give (see [Request]).
func IsAssumedRoleSession(arn string) bool {
	s := arn
	f := strings.SplitN(strings.ToLower(s), ":", 6)
	return len(f) == 6 && f[0] == "arn" && f[2] == "sts" && strings.HasPrefix(f[5], "assumed-role/")
}

// accountOf returns the account field of an ARN, or "".
func accountOf(arn string) string {
	a, ok := splitARN(arn)
	if !ok || !isAccountID(a.account) {
		return ""
	}
	return a.account
}
