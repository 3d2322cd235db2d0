// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits enforced by [Parse].
const (
	// MaxPolicySize is the largest accepted document in bytes, the AWS KMS
	// key policy limit (32 KiB).
	MaxPolicySize = 32 * 1024
	// MaxStatements bounds the number of statements in one policy.
	MaxStatements = 256
	// MaxDepth bounds JSON nesting; the grammar needs five levels.
	MaxDepth = 8
)

// Policy versions accepted in the Version element.
const (
	// Version2012 is the current policy language version (policy
	// variables, which this package rejects, exist only in it).
	Version2012 = "2012-10-17"
	// Version2008 is the original version, assumed when Version is absent.
	Version2008 = "2008-10-17"
)

// Policy is a parsed, validated key policy. It is immutable and safe for
// concurrent use by multiple goroutines.
type Policy struct {
	version    string
	id         string
	identity   bool // an identity policy (ParseIdentity): no Principal
	statements []statement
	// resourceTags is true when a condition reads aws:ResourceTag/<key>.
	resourceTags bool
	// att is the attestation keys the conditions read (AddAttestationFor).
	att attReads
	// transport is the transport keys the conditions read
	// (AddTransportFor): a bit per transportKeys entry.
	transport uint8
}

// Identity reports whether p is an identity policy ([ParseIdentity]).
func (p *Policy) Identity() bool { return p.identity }

// Version returns the policy's Version element ("2012-10-17" or
// "2008-10-17"; "2008-10-17" when the document has none, as in AWS).
func (p *Policy) Version() string { return p.version }

// ID returns the policy's Id element, or "".
func (p *Policy) ID() string { return p.id }

// Statements returns the number of statements in the policy.
func (p *Policy) Statements() int { return len(p.statements) }

type effect uint8

const (
	effectAllow effect = iota
	effectDeny
)

type statement struct {
	index      int
	sid        string
	effect     effect
	principals []principal
	notAction  bool
	actions    []string // lower-cased patterns
	resources  []string // patterns, as written
	conditions []condition
	// name and allowedBy are set once by parse (named): the statement's
	// label and the reason of a decision it allows, which every allowed
	// request would otherwise format again.
	name      string
	allowedBy string
}

// label names the statement in reasons: its Sid, or its position.
func (s *statement) label() string {
	if s.name != "" {
		return s.name
	}
	return s.formatLabel()
}

func (s *statement) formatLabel() string {
	if s.sid != "" {
		return s.sid
	}
	return fmt.Sprintf("Statement[%d]", s.index)
}

// named sets s's label and the reason of a decision it allows: "allowed by
// statement " and the label quoted as fmt's %q quotes it.
func (s *statement) named() {
	s.name = s.formatLabel()
	s.allowedBy = "allowed by statement " + strconv.Quote(s.name)
}

// Parse parses and validates a key policy document written in the AWS JSON
// policy grammar. It accepts this subset, strictly:
//
//   - top level: Version ("2012-10-17" or "2008-10-17"; absent means
//     "2008-10-17" as in AWS), Id, Statement (one object or an array);
//   - statement: Sid, Effect ("Allow" or "Deny"), Principal ("*" or an object
//     with "AWS" and/or "Service" members, each a string or an array), Action
//     or NotAction (exactly one; "*" or "service:pattern" with * and ?
//     wildcards), Resource ("*" or ARN patterns), Condition;
//   - condition operators StringEquals, StringNotEquals,
//     StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike,
//     StringNotLike, Bool and Null, with the ForAnyValue: and ForAllValues:
//     prefixes and the IfExists suffix;
//   - condition keys kms:RecipientAttestation:ImageSha384,
//     kms:RecipientAttestation:PCR0 to PCR31,
//     kms:RecipientAttestation:NitroTPMPCR0 to NitroTPMPCR23, kms:EncryptionContext:<key>,
//     kms:EncryptionContextKeys, kms:CallerAccount, kms:ViaService,
//     aws:PrincipalArn, aws:PrincipalAccount, kms:KeySpec, kms:KeyUsage,
//     kms:SigningAlgorithm, kms:MessageType, kms:EncryptionAlgorithm,
//     kms:MacAlgorithm, kms:KeyAgreementAlgorithm, aws:ResourceTag/<key>,
//     aws:RequestTag/<key> and aws:TagKeys, and the others the package
//     documentation lists (names case-insensitive).
//
// Everything else is an error naming the element: unknown members, duplicate
// members, NotPrincipal, NotResource, other operators or condition keys,
// policy variables (${...}) in a "2012-10-17" policy (in a Principal, a
// Resource, a condition key name or value), ForAllValues with a
// single-valued key (KMS itself refuses it for kms:EncryptionContext:<key> as
// OverlyPermissiveCondition), and documents over the limits. The error is a
// [*ParseError] matching [ErrMalformed], [ErrUnsupported] or [ErrTooLarge].
func Parse(doc []byte) (*Policy, error) { return parse(doc, false) }

// ParseIdentity parses an identity policy: the IAM policy attached to one
// principal, in the same grammar as a key policy except that statements
// have no Principal (they apply to the principal the policy is attached
// to; Principal and NotPrincipal are [ErrMalformed]). Resource names key
// ARNs, alias ARNs or "*". Conditions are evaluated exactly as in key
// policies.
func ParseIdentity(doc []byte) (*Policy, error) { return parse(doc, true) }

func parse(doc []byte, identity bool) (*Policy, error) {
	if len(doc) > MaxPolicySize {
		return nil, &ParseError{Msg: fmt.Sprintf("document is %d bytes, over the %d-byte limit", len(doc), MaxPolicySize), Err: ErrTooLarge}
	}
	root, err := decodeStrict(doc)
	if err != nil {
		return nil, err
	}
	if root.kind != jObject {
		return nil, malformed("", "policy must be a JSON object, not %s", root.kind)
	}
	p := &Policy{version: Version2008, identity: identity}
	var stmts *jval
	for i := range root.obj {
		m := &root.obj[i]
		switch m.key {
		case "Version":
			if m.val.kind != jString || (m.val.s != Version2012 && m.val.s != Version2008) {
				return nil, malformed("Version", "must be %q or %q", Version2012, Version2008)
			}
			p.version = m.val.s
		case "Id":
			if m.val.kind != jString {
				return nil, malformed("Id", "must be a string, not %s", m.val.kind)
			}
			p.id = m.val.s
		case "Statement":
			stmts = &m.val
		default:
			return nil, unknownElement("", m.key, "Version, Id, Statement")
		}
	}
	if stmts == nil {
		return nil, malformed("", "missing Statement")
	}
	var list []jval
	switch stmts.kind {
	case jObject:
		list = []jval{*stmts}
	case jArray:
		list = stmts.arr
	default:
		return nil, malformed("Statement", "must be an object or an array, not %s", stmts.kind)
	}
	if len(list) == 0 {
		return nil, malformed("Statement", "no statements")
	}
	if len(list) > MaxStatements {
		return nil, &ParseError{Path: "Statement", Msg: fmt.Sprintf("%d statements, over the limit of %d", len(list), MaxStatements), Err: ErrTooLarge}
	}
	sids := make(map[string]int)
	for i := range list {
		path := fmt.Sprintf("Statement[%d]", i)
		s, err := parseStatement(&list[i], path, i, p.version, identity)
		if err != nil {
			return nil, err
		}
		if s.sid != "" {
			if j, dup := sids[s.sid]; dup {
				return nil, malformed(path+".Sid", "duplicate Sid %q (also Statement[%d])", s.sid, j)
			}
			sids[s.sid] = i
		}
		s.named()
		p.statements = append(p.statements, s)
		for j := range s.conditions {
			p.resourceTags = p.resourceTags || strings.HasPrefix(s.conditions[j].lkey, keyResourceTagPrefixLower)
			p.att.note(s.conditions[j].lkey)
			p.transport |= transportBit(s.conditions[j].lkey)
		}
	}
	return p, nil
}

func malformed(path, format string, args ...any) error {
	return &ParseError{Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrMalformed}
}

func unsupported(path, format string, args ...any) error {
	return &ParseError{Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrUnsupported}
}

func unknownElement(path, name, known string) error {
	return &ParseError{Path: path, Msg: fmt.Sprintf("unknown element %q (expected one of %s)", name, known), Err: ErrMalformed}
}

func parseStatement(v *jval, path string, index int, version string, identity bool) (statement, error) {
	s := statement{index: index}
	if v.kind != jObject {
		return s, malformed(path, "statement must be an object, not %s", v.kind)
	}
	var haveEffect, havePrincipal, haveAction, haveResource bool
	for i := range v.obj {
		m := &v.obj[i]
		mpath := path + "." + m.key
		var err error
		switch m.key {
		case "Sid":
			if m.val.kind != jString {
				return s, malformed(mpath, "must be a string, not %s", m.val.kind)
			}
			s.sid = m.val.s
		case "Effect":
			haveEffect = true
			switch {
			case m.val.kind == jString && m.val.s == "Allow":
				s.effect = effectAllow
			case m.val.kind == jString && m.val.s == "Deny":
				s.effect = effectDeny
			default:
				return s, malformed(mpath, `must be "Allow" or "Deny"`)
			}
		case "Principal":
			if identity {
				return s, malformed(mpath, "an identity policy has no Principal: it applies to the principal it is attached to")
			}
			havePrincipal = true
			s.principals, err = parsePrincipal(&m.val, mpath, version)
		case "NotPrincipal":
			if identity {
				return s, malformed(mpath, "an identity policy has no NotPrincipal: it applies to the principal it is attached to")
			}
			return s, unsupported(mpath, "NotPrincipal is not supported")
		case "Action", "NotAction":
			if haveAction {
				return s, malformed(mpath, "a statement has either Action or NotAction, not both")
			}
			haveAction = true
			s.notAction = m.key == "NotAction"
			s.actions, err = parseActions(&m.val, mpath)
		case "Resource":
			haveResource = true
			s.resources, err = parseResources(&m.val, mpath, version)
		case "NotResource":
			return s, unsupported(mpath, "NotResource is not supported")
		case "Condition":
			s.conditions, err = parseConditions(&m.val, mpath, version)
		default:
			return s, unknownElement(path, m.key, "Sid, Effect, Principal, Action, NotAction, Resource, Condition")
		}
		if err != nil {
			return s, err
		}
	}
	switch {
	case !haveEffect:
		return s, malformed(path, "missing Effect")
	case !havePrincipal && !identity:
		return s, malformed(path, "missing Principal (required in key policies)")
	case !haveAction:
		return s, malformed(path, "missing Action or NotAction")
	case !haveResource:
		return s, malformed(path, "missing Resource")
	}
	if identity {
		s.principals = []principal{{kind: principalAny}}
	}
	return s, nil
}

// stringList accepts a string or a non-empty array of strings.
func stringList(v *jval, path string) ([]string, error) {
	switch v.kind {
	case jString:
		return []string{v.s}, nil
	case jArray:
		if len(v.arr) == 0 {
			return nil, malformed(path, "empty array")
		}
		out := make([]string, 0, len(v.arr))
		for i := range v.arr {
			if v.arr[i].kind != jString {
				return nil, malformed(fmt.Sprintf("%s[%d]", path, i), "must be a string, not %s", v.arr[i].kind)
			}
			out = append(out, v.arr[i].s)
		}
		return out, nil
	default:
		return nil, malformed(path, "must be a string or an array of strings, not %s", v.kind)
	}
}

func parseActions(v *jval, path string) ([]string, error) {
	list, err := stringList(v, path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		if a != "*" {
			svc, name, ok := strings.Cut(a, ":")
			if !ok || svc == "" || name == "" || strings.ContainsAny(svc, "*?") {
				return nil, malformed(path, `invalid action %q (want "*" or "service:Action", e.g. "kms:Decrypt")`, a)
			}
		}
		out = append(out, strings.ToLower(a))
	}
	return out, nil
}

func parseResources(v *jval, path, version string) ([]string, error) {
	list, err := stringList(v, path)
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return nil, malformed(path, `invalid resource %q (want "*" or an ARN)`, r)
		}
		if err := checkVariables(r, path, version); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// checkVariables rejects policy variables, which AWS substitutes in
// "2012-10-17" policies. Treating "${aws:username}" literally would narrow a
// Deny, i.e. widen access.
func checkVariables(s, path, version string) error {
	if version == Version2012 && strings.Contains(s, "${") {
		return unsupported(path, "policy variables are not supported (%q)", s)
	}
	return nil
}

func parseUint(s string, max int) (int, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, false
	}
	return n, true
}
