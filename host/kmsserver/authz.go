// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Authorization: the key policy and the caller's identity policy together,
// and for account-level operations the identity policy and the caller's
// account. Grants are evaluated here too, beside the key policy (an
// explicit Deny of either policy wins over a grant).

import (
	"fmt"
	"strings"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

// authorize decides action on key k for the caller, with the encryption
// context and (for recipient requests) the verified attestation document,
// from the key policy and the caller's identity policy together, as AWS
// documents it:
//
//  1. An explicit Deny in either policy denies.
//  2. The key policy must allow. When it allows a principal of the server's
//     account by naming it (or "*"), that suffices.
//  3. When it allows only through the account (the root ARN or account ID,
//     as the default key policy does), it delegates: the identity policy
//     must allow too. A principal of another account always needs both.
func (s *Server) authorize(c *call, k *keystore.Key, action string, ec map[string]string, doc *attestedRecipient) error {
	p, err := s.policyOf(k)
	if err != nil {
		return err // a stored policy that no longer parses is an internal error
	}
	ip := s.identities[c.principal]
	req := s.policyRequest(c, k.ID, action, ec, doc, p, ip)
	addKeyConditions(c, k, action, req.Context)
	if err := s.addResourceAliases(c, k, req.Context, p, ip); err != nil {
		return err
	}
	if err := s.addResourceTags(c, k, action, req.Context, p, ip); err != nil {
		return err
	}
	pr := policy.Prepare(req) // once for both policies
	kd := p.EvaluatePrepared(pr)
	id := ip.EvaluatePrepared(pr)
	ok, reason := combine(kd, id, principalAccount(c.principal) == s.cfg.AccountID)
	c.grant = nil
	if !ok && !kd.ExplicitDeny && !id.ExplicitDeny {
		// Grants allow beside the key policy, never against an explicit
		// Deny of either policy (op_grants.go).
		if g := grantFor(c.principal, k, action, ec); g != nil {
			ok, reason = true, "grant "+g.ID+" allows it"
			c.grant = g
		}
	}
	if c.ev.PolicyReason == "" || !ok {
		c.ev.PolicyReason = reason
	}
	if !ok {
		return apiErr(CodeAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because %s",
			c.principal, action, s.keyARN(k.ID), reason)
	}
	c.noteUse(k.ID)
	return nil
}

// combine applies authorize's rules to the key policy's and the identity
// policy's decisions.
func combine(key, identity policy.Decision, ownAccount bool) (bool, string) {
	switch {
	case key.ExplicitDeny:
		return false, key.Reason + " in the key policy"
	case identity.ExplicitDeny:
		return false, identity.Reason + " in the identity policy"
	case !key.Allowed:
		return false, key.Reason
	case ownAccount && !key.ViaAccount:
		return true, key.Reason
	case identity.Allowed:
		return true, key.Reason + " (to the account) and " + identity.Reason + " in the identity policy"
	}
	return false, fmt.Sprintf("the key policy allows it only to the account (statement %q) and the identity policy does not: %s", key.MatchedStatement, identity.Reason)
}

// authorizeAccount decides an account-level action (CreateKey, ListKeys,
// ListAliases, and the alias side of CreateAlias and DeleteAlias) from the
// identity policy alone, for principals of the server's account only:
// these cannot be called cross-account in AWS. resource is the alias ARN,
// or "" for "*".
func (s *Server) authorizeAccount(c *call, action, resource string) error {
	shown := resource
	if shown == "" {
		shown = "*"
	}
	if err := s.requireOwnAccount(c, action, shown); err != nil {
		return err
	}
	return s.authorizeIdentity(c, action, resource, nil)
}

// authorizeIdentity decides an action that no key policy covers (those of
// authorizeAccount, and GenerateRandom) from the identity policy alone.
func (s *Server) authorizeIdentity(c *call, action, resource string, doc *attestedRecipient) error {
	shown := resource
	if shown == "" {
		shown = "*"
	}
	ip := s.identities[c.principal]
	ctx := addRequestConditions(c, "", nil)
	if doc != nil {
		ctx = doc.addConditionKeys(ctx, ip)
	}
	if len(c.cond) > 0 { // CreateKey's kms:KeySpec and kms:KeyUsage
		for k, v := range c.cond {
			ctx[k] = v
		}
	}
	d := ip.Evaluate(policy.Request{Principal: c.principal, Action: action, Resource: resource, Context: ctx})
	if !d.Allowed {
		c.ev.PolicyReason = d.Reason + " in the identity policy"
		return apiErr(CodeAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows it (%s)",
			c.principal, action, shown, d.Reason)
	}
	return nil
}

// policyRequest is the request put to the policies ps (the key policy and
// the caller's identity policy, or a new key policy), which alone may
// decide it: of the attestation document's keys and of the transport and
// time keys it carries those ps read (addConditionKeys,
// policy.AddTransportFor). Every policy that decides must be in ps.
func (s *Server) policyRequest(c *call, id, action string, ec map[string]string, doc *attestedRecipient, ps ...*policy.Policy) policy.Request {
	// Sized for the keys added here and in authorize (with a few of the
	// document's), so that the map does not grow (and rehash) key by key.
	n := 8 + len(c.cond) + len(ec) + 1
	if doc != nil {
		n += 2
	}
	ctx := policy.AddEncryptionContext(addRequestConditions(c, id, make(map[string][]string, n), ps...), ec)
	if doc != nil {
		ctx = doc.addConditionKeys(ctx, ps...)
	}
	return policy.Request{Principal: c.principal, Action: action, Resource: s.keyARN(id), Context: ctx}
}

// requireOwnAccount refuses action to principals of other accounts. KMS
// makes CreateKey, CreateAlias, DeleteAlias, ListKeys and ListAliases IAM
// actions of the key's own account that cannot be called cross-account:
// otherwise a principal of another account could create a key with a
// policy of its choosing and claim an alias name this account uses
// (alias/prod), so that this account's GenerateDataKey by that alias
// encrypts under the stranger's key.
func (s *Server) requireOwnAccount(c *call, action, resource string) error {
	if principalAccount(c.principal) == s.cfg.AccountID {
		return nil
	}
	return apiErr(CodeAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because the principal is not in account %s (%s cannot be called cross-account)",
		c.principal, action, resource, s.cfg.AccountID, action)
}

// principalAccount returns the account ID of an IAM or STS principal ARN
// (arn:PARTITION:iam::ACCOUNT:... or arn:PARTITION:sts::ACCOUNT:...), or ""
// when p is not one.
func principalAccount(p string) string {
	parts := strings.SplitN(p, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || (parts[2] != "iam" && parts[2] != "sts") || parts[3] != "" {
		return ""
	}
	return parts[4]
}
