// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Authorization: the key policy (and, for account-level operations, the
// caller's account). Grants will be evaluated here, beside the key policy.

import (
	"strings"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

// authorize evaluates k's policy for the caller, action, encryption context
// and (for recipient requests) the verified attestation document.
func (s *Server) authorize(c *call, k *keystore.Key, action string, ec map[string]string, doc *attestation.Document) error {
	p, err := s.policyOf(k)
	if err != nil {
		return err // a stored policy that no longer parses is an internal error
	}
	req := s.policyRequest(c, k.ID, action, ec, doc)
	addKeyConditions(c, k, action, req.Context)
	d := p.Evaluate(req)
	if c.ev.PolicyReason == "" || !d.Allowed {
		c.ev.PolicyReason = d.Reason
	}
	if !d.Allowed {
		return apiErr(CodeAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because %s",
			c.principal, action, s.keyARN(k.ID), d.Reason)
	}
	return nil
}

func (s *Server) policyRequest(c *call, id, action string, ec map[string]string, doc *attestation.Document) policy.Request {
	ctx := policy.AddEncryptionContext(nil, ec)
	if doc != nil {
		ctx = policy.AddAttestation(ctx, doc.PCRs)
	}
	return policy.Request{Principal: c.principal, Action: action, Resource: s.keyARN(id), Context: ctx}
}

// requireOwnAccount refuses action to principals of other accounts. KMS
// makes CreateKey, CreateAlias and DeleteAlias IAM actions of the key's own
// account that cannot be called cross-account; kms-server has no IAM layer,
// so without this rule a principal of another account could create a key
// with a policy of its choosing and claim an alias name this account uses
// (alias/prod), and this account's GenerateDataKey by that alias would then
// encrypt under the stranger's key.
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
