// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

func (s *Server) operations() map[string]opFunc {
	return map[string]opFunc{
		"CreateKey":                           s.createKey,
		"DescribeKey":                         s.describeKey,
		"ListKeys":                            s.listKeys,
		"EnableKey":                           s.enableKey,
		"DisableKey":                          s.disableKey,
		"ScheduleKeyDeletion":                 s.scheduleKeyDeletion,
		"CancelKeyDeletion":                   s.cancelKeyDeletion,
		"CreateAlias":                         s.createAlias,
		"DeleteAlias":                         s.deleteAlias,
		"ListAliases":                         s.listAliases,
		"GetKeyPolicy":                        s.getKeyPolicy,
		"PutKeyPolicy":                        s.putKeyPolicy,
		"Encrypt":                             s.encrypt,
		"Decrypt":                             s.decrypt,
		"ReEncrypt":                           s.reEncrypt,
		"GenerateDataKey":                     s.generateDataKey,
		"GenerateDataKeyWithoutPlaintext":     s.generateDataKeyWithoutPlaintext,
		"GenerateDataKeyPair":                 s.generateDataKeyPair,
		"GenerateDataKeyPairWithoutPlaintext": s.generateDataKeyPairWithoutPlaintext,
		"GenerateRandom":                      s.generateRandom,
	}
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (s *Server) metadata(k *keystore.Key) keyMetadata {
	m := keyMetadata{
		AWSAccountID:          s.cfg.AccountID,
		KeyID:                 k.ID,
		Arn:                   s.keyARN(k.ID),
		CreationDate:          epoch(k.CreatedAt),
		Enabled:               k.State == keystore.StateEnabled,
		Description:           k.Description,
		KeyUsage:              k.KeyUsage,
		KeyState:              k.State,
		Origin:                "AWS_KMS",
		KeyManager:            "CUSTOMER",
		CustomerMasterKeySpec: k.KeySpec,
		KeySpec:               k.KeySpec,
	}
	if k.KeySpec == specSymmetric {
		m.EncryptionAlgorithms = []string{specSymmetric}
	} else if strings.HasPrefix(k.KeySpec, "HMAC_") {
		m.MacAlgorithms = []string{"HMAC_SHA_" + strings.TrimPrefix(k.KeySpec, "HMAC_")}
	}
	if k.State == keystore.StatePendingDeletion {
		d := epoch(k.DeletionDate)
		m.DeletionDate = &d
		w := k.PendingWindowInDays
		m.PendingDeletionWindowInDay = &w
	}
	return m
}

var hmacSizes = map[string]int{"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64}

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

func (s *Server) createKey(c *call, body []byte) (any, error) {
	var in createKeyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.requireOwnAccount(c, "kms:CreateKey", "arn:aws:kms:"+s.cfg.Region+":"+s.cfg.AccountID+":key/*"); err != nil {
		return nil, err
	}
	spec := in.KeySpec
	if spec == "" {
		spec = in.CustomerMasterKeySpec
	} else if in.CustomerMasterKeySpec != "" && in.CustomerMasterKeySpec != spec {
		return nil, validation("KeySpec and CustomerMasterKeySpec differ; use KeySpec only")
	}
	if spec == "" {
		spec = specSymmetric
	}
	usage := in.KeyUsage
	size := 32
	switch {
	case spec == specSymmetric:
		if usage == "" {
			usage = usageEncrypt
		}
		if usage != usageEncrypt {
			return nil, validation("KeyUsage %s is not valid for KeySpec %s", usage, spec)
		}
	case hmacSizes[spec] != 0:
		if usage != usageMAC {
			return nil, validation("KeyUsage must be %s for KeySpec %s", usageMAC, spec)
		}
		size = hmacSizes[spec]
	case strings.HasPrefix(spec, "RSA_"), strings.HasPrefix(spec, "ECC_"), spec == "SM2", strings.HasPrefix(spec, "ML_"):
		return nil, apiErr(CodeUnsupportedOperation, "asymmetric KMS keys (KeySpec %s) are not supported by this server; use SYMMETRIC_DEFAULT (or GenerateDataKeyPair for key pairs)", spec)
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'keySpec' failed to satisfy constraint", spec)
	}
	if in.Origin != "" && in.Origin != "AWS_KMS" {
		return nil, apiErr(CodeUnsupportedOperation, "Origin %s is not supported", in.Origin)
	}
	if in.CustomKeyStoreID != "" || in.XksKeyID != "" {
		return nil, apiErr(CodeUnsupportedOperation, "custom key stores are not supported")
	}
	if in.MultiRegion {
		return nil, apiErr(CodeUnsupportedOperation, "multi-Region keys are not supported")
	}
	if len(in.Description) > 8192 {
		return nil, validation("Description is longer than 8192 characters")
	}
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return nil, err
	}
	id := formatUUID(b)
	c.ev.KeyARN = s.keyARN(id)
	polText := string(policy.DefaultKeyPolicy(s.cfg.AccountID))
	if in.Policy != nil {
		if err := s.checkNewPolicy(c, id, *in.Policy, in.BypassPolicyLockoutSafetyCheck); err != nil {
			return nil, err
		}
		polText = *in.Policy
	}
	raw := make([]byte, size)
	if _, err := io.ReadFull(s.rand, raw); err != nil {
		return nil, err
	}
	k := &keystore.Key{ID: id, CreatedAt: c.now.UTC(), Description: in.Description, KeySpec: spec,
		KeyUsage: usage, State: keystore.StateEnabled, Policy: polText}
	wrapped, err := s.wrapMaterial(k, raw)
	if err != nil {
		return nil, err
	}
	k.WrappedMaterial = wrapped
	if err := s.store.CreateKey(c.ctx, k); err != nil {
		return nil, err
	}
	return keyMetadataOutput{KeyMetadata: s.metadata(k)}, nil
}

// checkNewPolicy parses a key policy and, unless bypass, refuses one that
// would lock the caller out of PutKeyPolicy (KMS's lockout safety check).
func (s *Server) checkNewPolicy(c *call, id, text string, bypass bool) error {
	if len(text) > 32768 {
		return apiErr(CodeMalformedPolicy, "the key policy is longer than 32768 characters")
	}
	p, err := policy.Parse([]byte(text))
	if err != nil {
		return apiErr(CodeMalformedPolicy, "%v", err)
	}
	if !bypass {
		d := p.Evaluate(s.policyRequest(c, id, "kms:PutKeyPolicy", nil, nil))
		if !d.Allowed {
			return apiErr(CodeMalformedPolicy, "The new key policy will not allow you to update the key policy in the future (%s).", d.Reason)
		}
	}
	return nil
}

func (s *Server) describeKey(c *call, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.loadKey(c, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:DescribeKey", nil, nil); err != nil {
		return nil, err
	}
	return keyMetadataOutput{KeyMetadata: s.metadata(k)}, nil
}

func pageLimit(l *int) (int, error) {
	if l == nil {
		return 100, nil
	}
	if *l < 1 || *l > 1000 {
		return 0, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", *l)
	}
	return *l, nil
}

// page returns the index range [from, to) of a sorted list of n names after
// marker, and the next marker.
func page(names []string, marker string, limit int) (from, to int, next string, err error) {
	if marker != "" {
		i := sort.SearchStrings(names, marker)
		if i >= len(names) || names[i] != marker {
			return 0, 0, "", apiErr(CodeInvalidMarker, "Invalid marker %q", marker)
		}
		from = i + 1
	}
	to = min(from+limit, len(names))
	if to < len(names) {
		next = names[to-1]
	}
	return from, to, next, nil
}

func (s *Server) listKeys(c *call, body []byte) (any, error) {
	var in listInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit, err := pageLimit(in.Limit)
	if err != nil {
		return nil, err
	}
	keys, err := s.store.ListKeys(c.ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	from, to, next, err := page(ids, in.Marker, limit)
	if err != nil {
		return nil, err
	}
	out := listKeysOutput{Keys: []keyListEntry{}, NextMarker: next, Truncated: next != ""}
	for _, id := range ids[from:to] {
		out.Keys = append(out.Keys, keyListEntry{KeyID: id, KeyArn: s.keyARN(id)})
	}
	return out, nil
}

func (s *Server) setState(c *call, body []byte, action string, fn func(k *keystore.Key) error) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.loadKey(c, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, action, nil, nil); err != nil {
		return nil, err
	}
	if _, err := s.store.UpdateKey(c.ctx, k.ID, fn); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) enableKey(c *call, body []byte) (any, error) {
	return s.setState(c, body, "kms:EnableKey", func(k *keystore.Key) error {
		if k.State == keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
		}
		k.State = keystore.StateEnabled
		return nil
	})
}

func (s *Server) disableKey(c *call, body []byte) (any, error) {
	return s.setState(c, body, "kms:DisableKey", func(k *keystore.Key) error {
		if k.State == keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
		}
		k.State = keystore.StateDisabled
		return nil
	})
}

func (s *Server) cancelKeyDeletion(c *call, body []byte) (any, error) {
	var id string
	if _, err := s.setState(c, body, "kms:CancelKeyDeletion", func(k *keystore.Key) error {
		if k.State != keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is not pending deletion.", s.keyARN(k.ID))
		}
		id = k.ID
		k.State = keystore.StateDisabled
		k.DeletionDate = time.Time{}
		k.PendingWindowInDays = 0
		return nil
	}); err != nil {
		return nil, err
	}
	return keyIDOutput{KeyID: s.keyARN(id)}, nil
}

func (s *Server) scheduleKeyDeletion(c *call, body []byte) (any, error) {
	var in scheduleKeyDeletionInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	days := 30
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
		if days < 7 || days > 30 {
			return nil, validation("1 validation error detected: Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", days)
		}
	}
	k, err := s.loadKey(c, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:ScheduleKeyDeletion", nil, nil); err != nil {
		return nil, err
	}
	k, err = s.store.UpdateKey(c.ctx, k.ID, func(k *keystore.Key) error {
		if k.State == keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
		}
		k.State = keystore.StatePendingDeletion
		k.DeletionDate = c.now.UTC().Add(time.Duration(days) * 24 * time.Hour)
		k.PendingWindowInDays = days
		return nil
	})
	if err != nil {
		return nil, err
	}
	return scheduleKeyDeletionOutput{KeyID: s.keyARN(k.ID), DeletionDate: epoch(k.DeletionDate),
		KeyState: k.State, PendingWindowInDays: days}, nil
}

func (s *Server) validAliasName(name string) error {
	if !aliasPattern.MatchString(name) {
		return apiErr(CodeInvalidAliasName, "Alias name %q must begin with 'alias/' followed by 1 to 250 of [a-zA-Z0-9/_-]", name)
	}
	if strings.HasPrefix(name, "alias/aws/") {
		return apiErr(CodeInvalidAliasName, "Alias must not begin with 'alias/aws/'")
	}
	return nil
}

func (s *Server) createAlias(c *call, body []byte) (any, error) {
	var in aliasInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.validAliasName(in.AliasName); err != nil {
		return nil, err
	}
	if err := s.requireOwnAccount(c, "kms:CreateAlias", s.aliasARN(in.AliasName)); err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.TargetKeyID, "alias/") || strings.Contains(in.TargetKeyID, ":alias/") {
		return nil, validation("TargetKeyId must be a key ID or key ARN, not an alias")
	}
	k, err := s.loadKey(c, in.TargetKeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:CreateAlias", nil, nil); err != nil {
		return nil, err
	}
	if k.State == keystore.StatePendingDeletion {
		return nil, apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
	}
	err = s.store.CreateAlias(c.ctx, keystore.Alias{Name: in.AliasName, KeyID: k.ID, CreatedAt: c.now.UTC(), MAC: s.aliasMAC(in.AliasName, k.ID)})
	switch {
	case errors.Is(err, keystore.ErrExists):
		return nil, apiErr(CodeAlreadyExists, "An alias with the name %s already exists", s.aliasARN(in.AliasName))
	case errors.Is(err, keystore.ErrNotFound):
		return nil, apiErr(CodeNotFound, "Key '%s' does not exist", s.keyARN(k.ID))
	case err != nil:
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) deleteAlias(c *call, body []byte) (any, error) {
	var in aliasInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(in.AliasName, "alias/") {
		return nil, apiErr(CodeInvalidAliasName, "Alias name must begin with 'alias/'")
	}
	if err := s.requireOwnAccount(c, "kms:DeleteAlias", s.aliasARN(in.AliasName)); err != nil {
		return nil, err
	}
	a, err := s.store.GetAlias(c.ctx, in.AliasName)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, apiErr(CodeNotFound, "Alias %s is not found.", s.aliasARN(in.AliasName))
	}
	if err != nil {
		return nil, err
	}
	k, err := s.loadKey(c, a.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:DeleteAlias", nil, nil); err != nil {
		return nil, err
	}
	if err := s.store.DeleteAlias(c.ctx, in.AliasName); err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			return nil, apiErr(CodeNotFound, "Alias %s is not found.", s.aliasARN(in.AliasName))
		}
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) listAliases(c *call, body []byte) (any, error) {
	var in listInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit, err := pageLimit(in.Limit)
	if err != nil {
		return nil, err
	}
	filter := ""
	if in.KeyID != "" {
		k, err := s.loadKey(c, in.KeyID)
		if err != nil {
			return nil, err
		}
		filter = k.ID
	}
	all, err := s.store.ListAliases(c.ctx)
	if err != nil {
		return nil, err
	}
	var sel []keystore.Alias
	var names []string
	for _, a := range all {
		if filter == "" || a.KeyID == filter {
			sel = append(sel, a)
			names = append(names, a.Name)
		}
	}
	from, to, next, err := page(names, in.Marker, limit)
	if err != nil {
		return nil, err
	}
	out := listAliasesOutput{Aliases: []aliasListEntry{}, NextMarker: next, Truncated: next != ""}
	for _, a := range sel[from:to] {
		d := epoch(a.CreatedAt)
		out.Aliases = append(out.Aliases, aliasListEntry{AliasName: a.Name, AliasArn: s.aliasARN(a.Name),
			TargetKeyID: a.KeyID, CreationDate: &d, LastUpdatedDate: &d})
	}
	return out, nil
}

func policyName(p *string) (string, error) {
	if p == nil || *p == "default" {
		return "default", nil
	}
	return "", apiErr(CodeNotFound, "No such policy exists: %s (the only key policy name is \"default\")", strconv.Quote(*p))
}

func (s *Server) getKeyPolicy(c *call, body []byte) (any, error) {
	var in keyPolicyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	name, err := policyName(in.PolicyName)
	if err != nil {
		return nil, err
	}
	k, err := s.loadKey(c, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:GetKeyPolicy", nil, nil); err != nil {
		return nil, err
	}
	return getKeyPolicyOutput{Policy: k.Policy, PolicyName: name}, nil
}

func (s *Server) putKeyPolicy(c *call, body []byte) (any, error) {
	var in keyPolicyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if _, err := policyName(in.PolicyName); err != nil {
		return nil, err
	}
	if in.Policy == nil {
		return nil, validation("1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be null")
	}
	k, err := s.loadKey(c, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:PutKeyPolicy", nil, nil); err != nil {
		return nil, err
	}
	if err := s.checkNewPolicy(c, k.ID, *in.Policy, in.BypassPolicyLockoutSafetyCheck); err != nil {
		return nil, err
	}
	if _, err := s.store.UpdateKey(c.ctx, k.ID, func(k *keystore.Key) error {
		// Re-bind the material to the new policy (see wrapAAD), after
		// checking the record as it is now.
		raw, err := s.unwrap(k)
		if err != nil {
			return err
		}
		k.Policy = *in.Policy
		k.WrappedMaterial, err = s.wrapMaterial(k, raw)
		return err
	}); err != nil {
		return nil, err
	}
	return empty{}, nil
}
