// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/enclavekit/enclavekit/internal/quote"
)

// Request is one authorization question put to a key policy.
type Request struct {
	// Principal is the ARN of the authenticated caller, e.g.
	// "arn:aws:iam::111122223333:role/data-processing".
	Principal string
	// Action is the KMS action, e.g. "kms:Decrypt" (matched
	// case-insensitively).
	Action string
	// Resource is the key ARN. Optional: when empty, only statements whose
	// Resource is "*" match as Allow, while a Deny with any Resource still
	// applies (fail closed).
	Resource string
	// Context holds the condition key values of the request, e.g.
	// "kms:RecipientAttestation:ImageSha384", "kms:RecipientAttestation:PCR0",
	// "kms:EncryptionContext:purpose", "kms:EncryptionContextKeys". Key names
	// are case-insensitive; values are compared as the condition operator
	// says. A key that is absent (or has no values) fails positive
	// conditions. [AddAttestation] and [AddEncryptionContext] fill it.
	// aws:PrincipalArn, aws:PrincipalAccount and kms:CallerAccount are
	// derived from Principal when Context does not set them. For an STS
	// assumed-role session (arn:aws:sts::ACCT:assumed-role/NAME/SESSION),
	// AWS's aws:PrincipalArn is the role's ARN, whose path the session ARN
	// does not give: unless Context sets aws:PrincipalArn to the role's
	// ARN, its value is unknown, and a condition on it holds in a Deny and
	// fails in an Allow, whatever the operator. A session ARN given as
	// aws:PrincipalArn is unknown too.
	Context map[string][]string
}

// Decision is the outcome of [Policy.Evaluate].
type Decision struct {
	// Allowed is true only when an Allow statement matched and no Deny did.
	Allowed bool
	// Reason says why, naming the statement and, for a denial, the failed
	// condition with the expected and the presented values, e.g.
	// `condition StringEqualsIgnoreCase kms:RecipientAttestation:PCR0:
	// expected "ab…", presented "cd…" (statement "Enable enclave")`.
	Reason string
	// MatchedStatement is the Sid (or "Statement[i]" without one) of the
	// Allow statement that granted access, or of the Deny statement that
	// refused it; "" for an implicit deny.
	MatchedStatement string
	// ExplicitDeny is true when a Deny statement matched.
	ExplicitDeny bool
	// ViaAccount is true when Allowed holds only through an account
	// principal (the account root ARN or a bare account ID) and no statement
	// names the caller more specifically. In a key policy this is AWS's
	// delegation to the account's identity policies: the caller also needs
	// an identity policy that allows the action.
	ViaAccount bool
}

// How far an Allow statement got before it failed; higher is closer.
type stage int

const (
	stagePrincipal stage = iota // principal did not match
	stageAction                 // action did not match
	stageResource               // resource did not match
	stageCondition              // principal, action and resource matched; a condition failed
)

// Evaluate decides r against the policy as AWS does:
//
//  1. A Deny statement whose principal, action, resource and every condition
//     match denies (explicit deny wins over any Allow).
//  2. Otherwise an Allow statement whose principal, action, resource and every
//     condition match allows.
//  3. Otherwise the request is denied (implicit deny). The reason describes the
//     closest Allow statement: the first one whose principal, action and
//     resource matched, naming its first failed condition; or, when none got
//     that far, "no statement allows <action> for <principal>".
//
// Condition semantics follow IAM: several values for one key are ORed, keys
// and operators are ANDed; negated operators (StringNotEquals…) and
// ForAllValues hold when the key is absent, IfExists makes an absent key
// hold, ForAnyValue and the positive operators fail on an absent key. A
// single-valued key presented with several values (say, two encryption
// context keys that differ only in case) must satisfy an Allow condition with
// every value, ForAnyValue or not, and satisfies a Deny condition with any
// value: fail closed in both directions.
//
// A nil *Policy denies everything.
func (p *Policy) Evaluate(r Request) Decision {
	if p == nil {
		return Decision{Reason: "no key policy"}
	}
	return p.EvaluatePrepared(Prepare(r))
}

// PreparedRequest is a [Request] readied for evaluation once: its condition
// keys lower-cased (merging keys that differ only in case) and the
// principal's keys derived. A request put to several policies, as every
// key operation is to the key policy and the caller's identity policy, is
// prepared once and evaluated with [Policy.EvaluatePrepared]. Later changes
// to the Request's Context do not reach it. Safe for concurrent
// evaluations: nothing changes it after Prepare.
type PreparedRequest struct {
	r      Request
	ctx    map[string][]string
	hasAtt attKind
	action string
	// sessionArn is true when aws:PrincipalArn is unknown: the caller is
	// an assumed-role session and the context does not name its role (see
	// buildContext).
	sessionArn bool
}

// Prepare readies r for [Policy.EvaluatePrepared].
func Prepare(r Request) *PreparedRequest {
	ctx, sessionArn := buildContext(&r)
	return &PreparedRequest{r: r, ctx: ctx, hasAtt: attestationOf(ctx), action: strings.ToLower(r.Action), sessionArn: sessionArn}
}

// EvaluatePrepared is [Policy.Evaluate] of a prepared request: the same
// decision, without lower-casing the request's context again.
func (p *Policy) EvaluatePrepared(pr *PreparedRequest) Decision {
	if p == nil {
		return Decision{Reason: "no key policy"}
	}
	r, action := pr.r, pr.action
	budget := maxEvalSteps

	for i := range p.statements {
		s := &p.statements[i]
		inScope := s.effect == effectDeny && s.scope(&r, action, &budget) == stageCondition
		held := inScope && holdsAll(s, pr, &budget)
		if budget < 0 {
			return exhausted(s)
		}
		if !held {
			continue
		}
		reason := fmt.Sprintf("explicit deny by statement %q", s.label())
		if len(s.conditions) > 0 {
			reason += ": " + s.conditions[0].whyHeld(pr)
		}
		return Decision{Reason: reason, MatchedStatement: s.label(), ExplicitDeny: true}
	}

	best, bestStage, bestWhy := -1, stage(-1), ""
	delegated := -1 // first Allow that matched the caller through its account only
	for i := range p.statements {
		s := &p.statements[i]
		if s.effect != effectAllow {
			continue
		}
		st := s.scope(&r, action, &budget)
		if st == stageCondition {
			ok, why := s.conditionsHold(pr, &budget)
			if budget < 0 {
				return exhausted(s)
			}
			if ok {
				if !s.onlyViaAccount(r.Principal) {
					return Decision{Allowed: true, Reason: s.allowedBy, MatchedStatement: s.name}
				}
				if delegated < 0 {
					delegated = i
				}
				continue
			}
			if bestStage < stageCondition {
				best, bestStage, bestWhy = i, st, why
			}
			continue
		}
		if budget < 0 {
			return exhausted(s)
		}
		if st > bestStage {
			best, bestStage = i, st
		}
	}
	if delegated >= 0 {
		s := &p.statements[delegated]
		return Decision{Allowed: true, ViaAccount: true, MatchedStatement: s.name, Reason: s.allowedBy}
	}
	if bestStage == stageCondition {
		return Decision{Reason: fmt.Sprintf("%s (statement %q)", bestWhy, p.statements[best].label())}
	}
	who := r.Principal
	if who == "" {
		who = "an anonymous caller"
	}
	reason := fmt.Sprintf("no statement allows %s for %s", r.Action, who)
	if bestStage == stageResource && r.Resource != "" {
		reason += " on " + r.Resource
	}
	return Decision{Reason: reason}
}

// maxEvalSteps bounds the wildcard-matching work of one evaluation. Legit
// policies use a few hundred steps; a policy whose StringLike patterns are
// crafted to be slow against long presented values hits the bound and the
// request is denied (fail closed) instead of burning CPU.
const maxEvalSteps = 1 << 22

func holdsAll(s *statement, pr *PreparedRequest, budget *int) bool {
	ok, _ := s.conditionsHold(pr, budget)
	return ok
}

func exhausted(s *statement) Decision {
	return Decision{Reason: fmt.Sprintf("policy evaluation exceeded its work limit at statement %q (wildcard patterns too costly for the presented values)", s.label())}
}

// buildContext lower-cases the context keys (merging keys that differ only
// in case) and derives the principal keys. sessionArn reports that
// aws:PrincipalArn is unknown, and left out of ctx: the caller is an
// assumed-role session (arn:aws:sts::ACCT:assumed-role/NAME/SESSION), for
// which AWS sets aws:PrincipalArn to the role's ARN
// (arn:aws:iam::ACCT:role/[PATH/]NAME), and the session ARN does not carry
// the role's path; or the context gives a session ARN as aws:PrincipalArn.
// A context that gives the role's ARN decides the key.
func buildContext(r *Request) (ctx map[string][]string, sessionArn bool) {
	ctx = make(map[string][]string, len(r.Context)+3)
	for k, v := range r.Context {
		if len(v) == 0 {
			continue
		}
		lk := lowerKey(k)
		if prev, ok := ctx[lk]; ok {
			merged := append(append(make([]string, 0, len(prev)+len(v)), prev...), v...)
			sort.Strings(merged) // map order must not leak into reasons
			ctx[lk] = merged
			continue
		}
		ctx[lk] = v // read-only from here on
	}
	if vals, ok := ctx[lowerPrincipalArn]; ok {
		for _, v := range vals {
			if IsAssumedRoleSession(v) {
				delete(ctx, lowerPrincipalArn)
				sessionArn = true
				break
			}
		}
	} else if IsAssumedRoleSession(r.Principal) {
		sessionArn = true
	}
	if r.Principal != "" {
		if !sessionArn {
			setDefault(ctx, lowerPrincipalArn, r.Principal)
		}
		if acct := accountOf(r.Principal); acct != "" {
			setDefault(ctx, "aws:principalaccount", acct)
			setDefault(ctx, "kms:calleraccount", acct)
		}
	}
	return ctx, sessionArn
}

// lowerPrincipalArn is aws:PrincipalArn as the context holds it.
const lowerPrincipalArn = "aws:principalarn"

// sessionArnUnknown says why a condition on aws:PrincipalArn is decided
// without a value.
const sessionArnUnknown = "the caller is an assumed-role session, whose aws:PrincipalArn is its role's ARN, which the session ARN does not give (the role's path is not in it)"

func setDefault(ctx map[string][]string, k, v string) {
	if _, ok := ctx[k]; !ok {
		ctx[k] = []string{v}
	}
}

// onlyViaAccount reports whether the statement names req only through an
// account principal (no "*", no matching ARN or service principal).
func (s *statement) onlyViaAccount(req string) bool {
	for i := range s.principals {
		if s.principals[i].kind != principalAccount && s.principals[i].matches(req) {
			return false
		}
	}
	return true
}

// scope reports how far the statement's principal, action and resource match
// r; stageCondition means all three matched.
func (s *statement) scope(r *Request, action string, budget *int) stage {
	ok := false
	for i := range s.principals {
		if s.principals[i].matches(r.Principal) {
			ok = true
			break
		}
	}
	if !ok {
		return stagePrincipal
	}
	matched := false
	for _, a := range s.actions {
		if wildcardMatch(a, action, budget) {
			matched = true
			break
		}
	}
	if matched == s.notAction {
		return stageAction
	}
	for _, res := range s.resources {
		switch {
		case res == "*":
			return stageCondition
		case r.Resource == "":
			if s.effect == effectDeny { // unknown resource: a Deny applies
				return stageCondition
			}
		case wildcardMatch(res, r.Resource, budget):
			return stageCondition
		}
	}
	return stageResource
}

// conditionsHold reports whether every condition holds and, if not, why the
// first failing one failed.
func (s *statement) conditionsHold(pr *PreparedRequest, budget *int) (bool, string) {
	for i := range s.conditions {
		c := &s.conditions[i]
		if !c.holds(pr, s.effect, budget) {
			return false, c.whyFailed(pr)
		}
	}
	return true, ""
}

func (c *condition) holds(pr *PreparedRequest, eff effect, budget *int) bool {
	if pr.sessionArn && c.lkey == lowerPrincipalArn {
		// Unknown value: a Deny applies, an Allow does not, whatever the
		// operator (Null and IfExists included).
		return eff == effectDeny
	}
	vals := pr.ctx[c.lkey]
	present := len(vals) > 0
	if c.base == opNull {
		for _, pv := range c.values {
			if (pv == "true") != present {
				return true
			}
		}
		return false
	}
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.set == setAnyValue:
			return false
		case c.set == setAllValues:
			return true
		}
		return c.base.negated()
	}
	// Any value decides a Deny (fail closed) and ForAnyValue on a
	// multi-valued key; otherwise every value must hold. A single-valued
	// key has one value in AWS, where ForAnyValue is the plain operator;
	// here keys that differ only in case merge into several, and
	// ForAnyValue must not let one of them carry an Allow.
	anyMode := (c.set == setAnyValue && c.multi) || (c.set != setAllValues && eff == effectDeny)
	result := !anyMode
	for _, v := range vals {
		h, ok := c.valueHolds(v, budget)
		if !ok {
			// A request value a typed operator cannot read (not a
			// number, date, address or ARN): fail closed, so an Allow
			// does not apply and a Deny does, whatever the other values.
			return eff == effectDeny
		}
		if anyMode && h {
			if !c.base.typed() {
				return true
			}
			result = true
		}
		if !anyMode && !h {
			if !c.base.typed() {
				return false
			}
			result = false
		}
	}
	return result
}

// valueHolds applies the operator to one request value: positive operators
// hold when any policy value matches, negated ones when none does. ok is
// false when a typed operator cannot read the request value.
func (c *condition) valueHolds(v string, budget *int) (holds, ok bool) {
	m := false
	if c.base.typed() {
		for i := range c.operands {
			hit, ok := c.base.matchTyped(&c.operands[i], v, budget)
			if !ok {
				return false, false
			}
			if hit {
				m = true
				break
			}
		}
		return m != c.base.negated(), true
	}
	for _, pv := range c.values {
		if c.base.match(pv, v, budget) {
			m = true
			break
		}
	}
	return m != c.base.negated(), true
}

func (c *condition) isAttestation() bool {
	return strings.HasPrefix(c.lkey, keyAttestationPrefixLower)
}

// attKind is the kind of attestation document whose keys a request carries.
type attKind uint8

const (
	attNone     attKind = iota // no attestation key: no document presented
	attEnclave                 // ImageSha384 and PCR<n>: a Nitro Enclave's document
	attNitroTPM                // NitroTPMPCR<n>: an EC2 instance's NitroTPM document
)

// attestationOf tells from the (lower-cased) context which kind of
// document the attestation keys come from. It only shapes reasons: which
// keys are present decides every condition by itself. A context with keys
// of both kinds (no verified document presents them; a caller could build
// one) is an enclave document's: NitroTPM only when no enclave key is
// present, whatever the map order.
func attestationOf(ctx map[string][]string) attKind {
	kind := attNone
	for k := range ctx {
		if !strings.HasPrefix(k, keyAttestationPrefixLower) {
			continue
		}
		if !strings.HasPrefix(k, keyNitroTPMPCRPrefixLower) {
			return attEnclave
		}
		kind = attNitroTPM
	}
	return kind
}

// otherKind names the kind of document presented when c is an attestation
// key of the other kind ("" otherwise): its absence is by design, and the
// reason says so.
func (c *condition) otherKind(att attKind) string {
	tpmKey := strings.HasPrefix(c.lkey, keyNitroTPMPCRPrefixLower)
	switch {
	case att == attNitroTPM && !tpmKey:
		return "a NitroTPM document (an EC2 instance's), which has no Nitro Enclave keys"
	case att == attEnclave && tpmKey:
		return "a Nitro Enclave document, which has no NitroTPM keys"
	}
	return ""
}

func (c *condition) whyFailed(pr *PreparedRequest) string {
	if pr.sessionArn && c.lkey == lowerPrincipalArn {
		return fmt.Sprintf("condition %s %s: %s, so the condition cannot hold in an Allow", c.op, c.key, sessionArnUnknown)
	}
	vals, hasAtt := pr.ctx[c.lkey], pr.hasAtt
	if c.base == opNull {
		if len(vals) > 0 {
			return fmt.Sprintf("condition Null %s: expected the key to be absent, presented %s", c.key, quoteList(vals))
		}
		return fmt.Sprintf("condition Null %s: expected the key to be present, but the request has none", c.key)
	}
	if len(vals) == 0 {
		if c.isAttestation() && hasAtt == attNone {
			return fmt.Sprintf("no attestation document presented (condition on %s)", c.key)
		}
		if other := c.otherKind(hasAtt); other != "" {
			return fmt.Sprintf("condition %s %s: key not present: the attestation document is %s", c.op, c.key, other)
		}
		return fmt.Sprintf("condition %s %s: key not present in the request", c.op, c.key)
	}
	why := fmt.Sprintf("condition %s %s: %s %s, presented %s", c.op, c.key, c.expectation(), quoteList(c.values), quoteList(vals))
	if c.base == opStringEquals && c.ignoringCaseHolds(vals) {
		why += " (the values differ only in letter case; StringEqualsIgnoreCase would match)"
	}
	return why
}

// ignoringCaseHolds reports whether the failed StringEquals condition c of
// an Allow would hold as StringEqualsIgnoreCase: with any presented value
// for ForAnyValue on a multi-valued key, else with every one (as holds
// decides an Allow).
func (c *condition) ignoringCaseHolds(vals []string) bool {
	anyMode := c.set == setAnyValue && c.multi
	for _, v := range vals {
		if slices.ContainsFunc(c.values, func(pv string) bool { return strings.EqualFold(v, pv) }) == anyMode {
			return anyMode
		}
	}
	return !anyMode
}

func (c *condition) whyHeld(pr *PreparedRequest) string {
	if pr.sessionArn && c.lkey == lowerPrincipalArn {
		return fmt.Sprintf("condition %s %s holds: %s, so a Deny on it applies", c.op, c.key, sessionArnUnknown)
	}
	vals, hasAtt := pr.ctx[c.lkey], pr.hasAtt
	if c.base == opNull {
		if len(vals) > 0 {
			return fmt.Sprintf("condition Null %s holds: key present", c.key)
		}
		return fmt.Sprintf("condition Null %s holds: key absent", c.key)
	}
	if len(vals) == 0 {
		if c.isAttestation() && hasAtt == attNone {
			return fmt.Sprintf("condition %s %s holds: no attestation document presented", c.op, c.key)
		}
		if other := c.otherKind(hasAtt); other != "" {
			return fmt.Sprintf("condition %s %s holds: key not present: the attestation document is %s", c.op, c.key, other)
		}
		return fmt.Sprintf("condition %s %s holds: key not present in the request", c.op, c.key)
	}
	return fmt.Sprintf("condition %s %s holds: %s %s, presented %s", c.op, c.key, c.expectation(), quoteList(c.values), quoteList(vals))
}

// expectation phrases what the operator wants of a presented value.
func (c *condition) expectation() string {
	one := len(c.values) == 1
	if w, ok := typedExpectation[c.base]; ok {
		if one {
			return "expected " + w
		}
		return "expected " + w + " one of"
	}
	switch c.base {
	case opStringNotEquals, opStringNotEqualsIgnoreCase:
		if one {
			return "expected not"
		}
		return "expected none of"
	case opStringLike:
		if one {
			return "expected a match for"
		}
		return "expected a match for one of"
	case opStringNotLike:
		if one {
			return "expected no match for"
		}
		return "expected no match for any of"
	}
	if one {
		return "expected"
	}
	return "expected one of"
}

// Reason formatting bounds: values are quoted (control characters escaped),
// long values cut, long lists shortened.
const (
	maxReasonValue  = 256
	maxReasonValues = 8
)

func quoteList(vals []string) string { return quote.List(vals, maxReasonValues, maxReasonValue) }
