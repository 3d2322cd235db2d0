// SPDX-License-Identifier: Apache-2.0

package policy

// The typed condition operators: Numeric*, Date*, IpAddress/NotIpAddress and
// Arn*. Policy values are parsed once, at Parse (a value that is not a
// number, a date, a CIDR block or an ARN is ErrMalformed); request values at
// evaluation, where one that is not of the operator's type makes the
// condition fail closed (see condition.holds).

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// operand is one parsed policy value of a typed operator.
type operand struct {
	num    float64
	at     time.Time
	prefix netip.Prefix
	arn    [6]string
}

// typed reports whether the operator compares parsed values rather than
// strings.
func (o baseOp) typed() bool { return o >= opNumericEquals }

// maxOperandLen bounds a number or date value (policy or request) before
// it is parsed.
const maxOperandLen = 64

// parseNumber accepts IAM's numeric literals: an optional sign, decimal
// digits and an optional fraction ("10", "-1", "0.5"). Exponents, hex,
// underscores, NaN and infinities are refused.
func parseNumber(s string) (float64, bool) {
	if len(s) == 0 || len(s) > maxOperandLen {
		return 0, false
	}
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0:
			dot = true
			digits = 0 // the fraction needs digits of its own
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// dateLayouts are the ISO 8601 forms Date* operators accept, besides epoch
// seconds.
var dateLayouts = []string{
	time.RFC3339Nano, // 2026-12-07T00:30:00Z, 2026-12-07T00:30:00.5+01:00
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02",
}

// parseDate accepts an ISO 8601 date or date-time (with a zone; a bare date
// is midnight UTC) or epoch seconds (decimal digits), as IAM's Date*
// operators and the aws:CurrentTime and aws:EpochTime keys use.
func parseDate(s string) (time.Time, bool) {
	if len(s) == 0 || len(s) > maxOperandLen {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && s[0] != '+' {
		if n < 0 || n > 253402300799 { // up to 9999-12-31T23:59:59Z
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parsePrefix accepts a CIDR block ("203.0.113.0/24", "2001:db8::/32") or a
// single address (a /32 or /128). Host bits are cleared, as IAM does;
// IPv4-mapped IPv6 is read as IPv4.
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		a := p.Addr()
		bits := p.Bits()
		if a.Is4In6() {
			if bits < 96 {
				return netip.Prefix{}, false
			}
			a, bits = a.Unmap(), bits-96
		}
		if a.Zone() != "" {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, bits).Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// splitARNSix splits "arn:partition:service:region:account:resource" into its
// six parts; the resource may itself contain colons.
func splitARNSix(s string) ([6]string, bool) {
	var out [6]string
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return out, false
	}
	copy(out[:], parts)
	return out, true
}

// parseOperand parses one policy value for a typed operator.
func parseOperand(o baseOp, s string) (operand, string, bool) {
	switch {
	case o.numeric():
		f, ok := parseNumber(s)
		return operand{num: f}, "a number (digits with an optional sign and fraction)", ok
	case o.date():
		t, ok := parseDate(s)
		return operand{at: t}, "an ISO 8601 date (2026-12-07T00:30:00Z) or epoch seconds", ok
	case o == opIPAddress || o == opNotIPAddress:
		p, ok := parsePrefix(s)
		return operand{prefix: p}, "an IP address or CIDR block (203.0.113.0/24)", ok
	case o.arnOp():
		a, ok := splitARNSix(s)
		return operand{arn: a}, "an ARN (arn:partition:service:region:account:resource, wildcards allowed)", ok
	}
	return operand{}, "", false
}

func (o baseOp) numeric() bool { return o >= opNumericEquals && o <= opNumericGreaterThanEquals }
func (o baseOp) date() bool    { return o >= opDateEquals && o <= opDateGreaterThanEquals }
func (o baseOp) arnOp() bool   { return o >= opArnEquals && o <= opArnNotLike }

// compare applies the ordering of a Numeric* or Date* operator to the
// result of comparing the request value with the policy value (-1, 0, +1).
func (o baseOp) compare(c int) bool {
	switch o {
	case opNumericEquals, opNumericNotEquals, opDateEquals, opDateNotEquals:
		return c == 0
	case opNumericLessThan, opDateLessThan:
		return c < 0
	case opNumericLessThanEquals, opDateLessThanEquals:
		return c <= 0
	case opNumericGreaterThan, opDateGreaterThan:
		return c > 0
	case opNumericGreaterThanEquals, opDateGreaterThanEquals:
		return c >= 0
	}
	return false
}

// matchTyped is the positive comparison of a typed operator: whether the
// request value matches the policy operand. ok is false when the request
// value is not of the operator's type (not a number, date, IP address or
// ARN); the caller then fails closed.
func (o baseOp) matchTyped(pv *operand, requestValue string, budget *int) (match, ok bool) {
	switch {
	case o.numeric():
		f, ok := parseNumber(requestValue)
		if !ok {
			return false, false
		}
		c := 0
		if f < pv.num {
			c = -1
		} else if f > pv.num {
			c = 1
		}
		return o.compare(c), true
	case o.date():
		t, ok := parseDate(requestValue)
		if !ok {
			return false, false
		}
		return o.compare(t.Compare(pv.at)), true
	case o == opIPAddress || o == opNotIPAddress:
		a, err := netip.ParseAddr(requestValue)
		if err != nil {
			return false, false
		}
		return pv.prefix.Contains(a.Unmap().WithZone("")), true
	case o.arnOp():
		r, ok := splitARNSix(requestValue)
		if !ok {
			return false, false
		}
		// ArnEquals and ArnLike are the same operator in IAM: a
		// case-sensitive match of each of the six parts, wildcards allowed.
		for i := range r {
			if !wildcardMatch(pv.arn[i], r[i], budget) {
				return false, true
			}
		}
		return true, true
	}
	return false, false
}

// typedExpectation phrases what a typed operator wants of a presented value
// (in reasons: "expected <phrase> [one of] <values>").
var typedExpectation = map[baseOp]string{
	opNumericEquals:            "a number equal to",
	opNumericNotEquals:         "a number not equal to",
	opNumericLessThan:          "a number less than",
	opNumericLessThanEquals:    "a number at most",
	opNumericGreaterThan:       "a number greater than",
	opNumericGreaterThanEquals: "a number at least",
	opDateEquals:               "the date",
	opDateNotEquals:            "a date other than",
	opDateLessThan:             "a date before",
	opDateLessThanEquals:       "a date at or before",
	opDateGreaterThan:          "a date after",
	opDateGreaterThanEquals:    "a date at or after",
	opIPAddress:                "an address in",
	opNotIPAddress:             "an address outside",
	opArnEquals:                "an ARN matching",
	opArnNotEquals:             "an ARN not matching",
	opArnLike:                  "an ARN matching",
	opArnNotLike:               "an ARN not matching",
}
