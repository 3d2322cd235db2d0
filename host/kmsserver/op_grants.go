// SPDX-License-Identifier: Apache-2.0

package kmsserver

// CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and
// RevokeGrant. A grant lets its grantee principal perform its operations on
// one key, within its encryption context constraint, as in AWS: a grant
// allows beside the key policy (authorize in authz.go asks grantFor when
// the policies do not allow), but never against an explicit Deny of the key
// policy or of the caller's identity policy, so a Deny on attestation
// conditions holds for grantees too.
//
// Grants live in the key record and are bound with the key policy to the
// wrapped material (grantsDigest): whoever can write to the store without
// the root key cannot add a grant. They take effect at once, so grant
// tokens are not needed; they are accepted, and a grant token names its
// grant for RetireGrant.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/enclavekit/enclavekit/host/kmsserver/keymaterial"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

const (
	// maxGrantsPerKey bounds a key record (AWS allows 50,000 grants per
	// key; here they live in the record every request reads).
	maxGrantsPerKey = 100
	maxPrincipalLen = 256
	maxGrantNameLen = 256
	// maxConstraintPairs and maxConstraintChars are AWS's bounds on one
	// grant constraint map (checkConstraint).
	maxConstraintPairs = 8
	maxConstraintChars = 384
	grantTokenPrefix   = "ekgt1."
)

var (
	grantNamePattern = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)
	grantIDPattern   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Grant operations, and those a grant constraint applies to (the
// operations with an encryption context).
var (
	grantCommonOps = []string{"CreateGrant", "RetireGrant", "DescribeKey"}
	grantOpsByKind = map[string][]string{
		"symmetric": {"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
			"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"},
		"ENCRYPT_DECRYPT":     {"Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"},
		"SIGN_VERIFY":         {"Sign", "Verify", "GetPublicKey"},
		"GENERATE_VERIFY_MAC": {"GenerateMac", "VerifyMac"},
		"KEY_AGREEMENT":       {"DeriveSharedSecret", "GetPublicKey"},
		"KEY_ENCAPSULATION":   {"Encapsulate", "Decapsulate", "GetPublicKey"},
	}
	constrainableOps = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom",
		"ReEncryptTo", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"}
)

// grantOps returns the grant operations valid for k.
func grantOps(k *keystore.Key) []string {
	kind := k.KeyUsage
	if k.KeySpec == specSymmetric {
		kind = "symmetric"
	}
	return append(slices.Clone(grantOpsByKind[kind]), grantCommonOps...)
}

// grantsDigest is what binds a key's grants with its policy: "" without
// grants (so records without grants keep their binding), else NUL,
// "grants", NUL and the hex SHA-256 of the grants' JSON. A key policy is
// parsed strict JSON and cannot hold a NUL byte, so policy and grants
// cannot be confused.
func grantsDigest(gs []keystore.Grant) string {
	if len(gs) == 0 {
		return ""
	}
	b, err := json.Marshal(gs) // map keys sorted: deterministic
	if err != nil {
		return "\x00grants\x00unencodable"
	}
	h := sha256.Sum256(b)
	return "\x00grants\x00" + hex.EncodeToString(h[:])
}

// grantsEqual reports whether two grant lists are the same, field by field.
func grantsEqual(a, b []keystore.Grant) bool {
	return slices.EqualFunc(a, b, func(x, y keystore.Grant) bool {
		return x.ID == y.ID && x.Name == y.Name && x.CreatedAt.Equal(y.CreatedAt) && x.CreatedAt.Location() == y.CreatedAt.Location() &&
			x.IssuingAccount == y.IssuingAccount && sameGrant(&x, &y)
	})
}

// grantFor returns a grant of k allowing principal the action with the
// encryption context ec, or nil.
func grantFor(principal string, k *keystore.Key, action string, ec map[string]string) *keystore.Grant {
	op, ok := strings.CutPrefix(action, "kms:")
	if !ok {
		return nil
	}
	for i := range k.Grants {
		g := &k.Grants[i]
		if g.GranteePrincipal != principal || !slices.Contains(g.Operations, op) {
			continue
		}
		if slices.Contains(constrainableOps, op) && !constraintHolds(g, ec) {
			continue
		}
		return g
	}
	return nil
}

// constraintHolds checks a request's encryption context against a grant's
// constraint. As in AWS, the keys of the constraint's pairs are not
// case-sensitive and the values are; folding the keys never widens a
// grant: a request context with two keys that differ only in case (which
// an encryption context may hold) satisfies no constraint, and a
// constraint with two such keys is satisfied by no context.
//
// An empty constraint map is no constraint, here and in every function
// below, because that is what the record keeps: keystore.Grant omits empty
// maps, and grantsDigest with them, so a grant read back (PostgreSQL at
// every request, the directory store after a restart) has none. CreateGrant
// refuses empty maps, so no grant made here holds one; a record decoded
// from a store writer's `{}` may, and must mean what the stored form means.
func constraintHolds(g *keystore.Grant, ec map[string]string) bool {
	if len(g.EncryptionContextEquals) == 0 && len(g.EncryptionContextSubset) == 0 {
		return true
	}
	have, ok := foldContext(ec)
	if !ok {
		return false
	}
	if len(g.EncryptionContextEquals) > 0 {
		want, ok := foldContext(g.EncryptionContextEquals)
		return ok && maps.Equal(want, have)
	}
	want, ok := foldContext(g.EncryptionContextSubset)
	return ok && subsetHolds(want, have)
}

// subsetHolds reports whether every pair of constraint is in have, both
// with their keys folded (foldContext). A constraint with two keys that
// differ only in case holds for no context, whatever their values: the
// caller folds it first and stops there.
func subsetHolds(constraint, have map[string]string) bool {
	for k, v := range constraint {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// atLeastAsStrict reports whether a new grant's constraint is at least as
// strict as its parent's (CreateGrant through a grant), with keys compared
// as constraintHolds compares them. A child or parent constraint with two
// keys that differ only in case is refused (it holds for no context).
func atLeastAsStrict(child, parent *keystore.Grant) bool {
	switch {
	case len(parent.EncryptionContextEquals) > 0:
		if len(child.EncryptionContextEquals) == 0 {
			return false
		}
		c, cok := foldContext(child.EncryptionContextEquals)
		p, pok := foldContext(parent.EncryptionContextEquals)
		return cok && pok && maps.Equal(c, p)
	case len(parent.EncryptionContextSubset) > 0:
		have := child.EncryptionContextSubset
		if len(child.EncryptionContextEquals) > 0 {
			have = child.EncryptionContextEquals
		}
		if len(have) == 0 {
			return false
		}
		h, ok := foldContext(have)
		p, pok := foldContext(parent.EncryptionContextSubset)
		return ok && pok && subsetHolds(p, h)
	}
	return true
}

// foldContext returns ec with its keys case-folded (foldKey), and false
// when two of its keys differ only in case.
func foldContext(ec map[string]string) (map[string]string, bool) {
	out := make(map[string]string, len(ec))
	for k, v := range ec {
		fk := foldKey(k)
		if _, dup := out[fk]; dup {
			return nil, false
		}
		out[fk] = v
	}
	return out, true
}

// foldKey maps every rune of s to the smallest rune of its Unicode simple
// case-folding orbit, so that two strings strings.EqualFold calls equal
// fold to one. Bytes that are not UTF-8 stay as they are: two different
// ones never fold together.
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteByte(s[i])
			i++
			continue
		}
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
		i += size
	}
	return b.String()
}

// checkConstraint applies AWS's bounds on a grant constraint map (CreateGrant's
// Constraints: "Each constraint value can include up to 8 encryption
// context pairs. The encryption context value in each constraint cannot
// exceed 384 characters", read here as the pairs' keys and values
// together), which also bound the key record: without them a principal
// allowed CreateGrant grew a record by up to the request body per grant.
//
// It also refuses an empty map (null, absent, is fine): the key record
// omits empty maps, so the grant would be stored with no constraint at
// all, allowing every encryption context where its creator asked for
// none. AWS documents no minimum; it counts an empty map as a constraint
// supplied (aws-sdk-java#328: an empty EncryptionContextEquals beside a
// Subset was refused as "More than one constraint supplied"), so dropping
// it silently would not match AWS either, and keeping it would need a new
// record field.
func checkConstraint(member string, m map[string]string) error {
	if m != nil && len(m) == 0 {
		return validation("1 validation error detected: Value '{}' at 'constraints.%s' failed to satisfy constraint: Member must have at least 1 entry (Constraints.%s {} cannot be stored: omit the constraint, or name the pairs the encryption context must hold)", lowerFirst(member), member)
	}
	if len(m) > maxConstraintPairs {
		return validation("1 validation error detected: Value at 'constraints.%s' failed to satisfy constraint: Member must have at most %d entries (it has %d)", lowerFirst(member), maxConstraintPairs, len(m))
	}
	n := 0
	for k, v := range m {
		n += utf8.RuneCountInString(k) + utf8.RuneCountInString(v)
	}
	if n > maxConstraintChars {
		return validation("1 validation error detected: Value at 'constraints.%s' failed to satisfy constraint: its keys and values must have at most %d characters in all (they have %d)", lowerFirst(member), maxConstraintChars, n)
	}
	return nil
}

// lowerFirst is member as AWS's validation messages name it.
func lowerFirst(member string) string {
	return strings.ToLower(member[:1]) + member[1:]
}

func checkPrincipal(member, p string) error {
	if len(p) > maxPrincipalLen || !strings.HasPrefix(p, "arn:") || strings.ContainsAny(p, " \t\n") {
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be a principal ARN of at most %d characters", p, member, maxPrincipalLen)
	}
	return nil
}

func (s *Server) createGrant(c *call, body []byte) (any, error) {
	var in createGrantInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.GranteeServicePrincipal != "" || in.RetiringServicePrincipal != "" {
		return nil, apiErr(CodeUnsupportedOperation, "service principals are not supported: no AWS service calls this server")
	}
	if in.GranteePrincipal == "" {
		return nil, validation("1 validation error detected: Value null at 'granteePrincipal' failed to satisfy constraint: Member must not be null")
	}
	if err := checkPrincipal("granteePrincipal", in.GranteePrincipal); err != nil {
		return nil, err
	}
	if in.RetiringPrincipal != "" {
		if err := checkPrincipal("retiringPrincipal", in.RetiringPrincipal); err != nil {
			return nil, err
		}
	}
	if len(in.Operations) == 0 {
		return nil, validation("1 validation error detected: Value at 'operations' failed to satisfy constraint: Member must have at least 1 item")
	}
	if in.Name != "" && (len(in.Name) > maxGrantNameLen || !grantNamePattern.MatchString(in.Name)) {
		return nil, validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$ and have length between 1 and %d", in.Name, maxGrantNameLen)
	}
	if err := checkGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	g := keystore.Grant{Name: in.Name, CreatedAt: c.now.UTC(), GranteePrincipal: in.GranteePrincipal, RetiringPrincipal: in.RetiringPrincipal,
		IssuingAccount: principalAccount(c.principal)}
	for _, op := range in.Operations {
		if !slices.Contains(g.Operations, op) {
			g.Operations = append(g.Operations, op)
		}
	}
	slices.Sort(g.Operations)
	constraintType := ""
	if in.Constraints != nil {
		if in.Constraints.EncryptionContextEquals != nil && in.Constraints.EncryptionContextSubset != nil {
			return nil, validation("Constraints may have EncryptionContextEquals or EncryptionContextSubset, not both")
		}
		if err := checkConstraint("EncryptionContextEquals", in.Constraints.EncryptionContextEquals); err != nil {
			return nil, err
		}
		if err := checkConstraint("EncryptionContextSubset", in.Constraints.EncryptionContextSubset); err != nil {
			return nil, err
		}
		if in.Constraints.EncryptionContextEquals != nil {
			g.EncryptionContextEquals, constraintType = in.Constraints.EncryptionContextEquals, "EncryptionContextEquals"
		} else if in.Constraints.EncryptionContextSubset != nil {
			g.EncryptionContextSubset, constraintType = in.Constraints.EncryptionContextSubset, "EncryptionContextSubset"
		}
	}
	if err := keyIDOnly(c, "KeyId", in.KeyID); err != nil {
		return nil, err
	}
	k, err := s.loadKey(c, in.KeyID)
	if err != nil {
		return nil, err
	}
	valid := grantOps(k)
	for _, op := range g.Operations {
		if !slices.Contains(valid, op) {
			return nil, validation("Operation %s is not valid for %s, a %s key of usage %s (valid: %s)", op, s.keyARN(k.ID), k.KeySpec, k.KeyUsage, strings.Join(valid, ", "))
		}
		if constraintType != "" && !slices.Contains(constrainableOps, op) && !slices.Contains(grantCommonOps, op) {
			return nil, validation("Grant constraints apply only to operations with an encryption context; %s has none", op)
		}
	}
	c.cond = map[string][]string{
		policy.KeyGrantOperations:       g.Operations,
		policy.KeyGranteePrincipal:      {g.GranteePrincipal},
		policy.KeyGrantIsForAWSResource: {"false"},
	}
	if g.RetiringPrincipal != "" {
		c.cond[policy.KeyRetiringPrincipal] = []string{g.RetiringPrincipal}
	}
	if constraintType != "" {
		c.cond[policy.KeyGrantConstraintType] = []string{constraintType}
	}
	err = s.authorize(c, k, "kms:CreateGrant", nil, nil)
	c.cond = nil
	if err != nil {
		return nil, err
	}
	if parent := c.grant; parent != nil {
		// Allowed by a grant: the new grant may not give more than it.
		for _, op := range g.Operations {
			if !slices.Contains(parent.Operations, op) {
				return nil, apiErr(CodeAccessDenied, "User: %s is not authorized to perform: kms:CreateGrant on resource: %s because grant %s, which allows it, does not include operation %s",
					c.principal, s.keyARN(k.ID), parent.ID, op)
			}
		}
		if !atLeastAsStrict(&g, parent) {
			return nil, apiErr(CodeAccessDenied, "User: %s is not authorized to perform: kms:CreateGrant on resource: %s because the new grant's constraint is less strict than that of grant %s, which allows it",
				c.principal, s.keyARN(k.ID), parent.ID)
		}
	}
	if in.DryRun {
		// The checks of the store update below, on the record read.
		if _, err := s.grantRoom(k, &g); err != nil {
			return nil, err
		}
		return nil, dryRun("kms:CreateGrant")
	}
	if g.ID, err = keymaterial.NewMaterialID(s.rand); err != nil { // 64 hex digits, as AWS's grant IDs
		return nil, err
	}
	var id string
	_, err = s.updateSealed(c.ctx, k.ID, s.rebind(func(k *keystore.Key) error {
		old, err := s.grantRoom(k, &g)
		if err != nil {
			return err
		}
		if old != "" {
			id = old
			return errGrantExists
		}
		k.Grants = append(k.Grants, g.Clone())
		id = g.ID
		return nil
	}))
	if err != nil && !errors.Is(err, errGrantExists) {
		return nil, err
	}
	return createGrantOutput{GrantID: id, GrantToken: s.grantToken(k.ID, id)}, nil
}

// grantRoom checks that k can take the new grant g: not pending deletion,
// and below maxGrantsPerKey grants, unless g retries a grant of the same
// name and parameters, whose ID it returns (a retried CreateGrant answers
// the same grant, as AWS).
func (s *Server) grantRoom(k *keystore.Key, g *keystore.Grant) (existing string, err error) {
	if k.State == keystore.StatePendingDeletion {
		return "", apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
	}
	if g.Name != "" {
		for _, old := range k.Grants {
			if old.Name == g.Name && sameGrant(&old, g) {
				return old.ID, nil
			}
		}
	}
	if len(k.Grants) >= maxGrantsPerKey {
		return "", apiErr(CodeLimitExceeded, "%s has %d grants, the most a key may have here.", s.keyARN(k.ID), len(k.Grants))
	}
	return "", nil
}

// errGrantExists aborts the update of a retried CreateGrant; never answered.
var errGrantExists = errors.New("kmsserver: the grant exists")

func sameGrant(a, b *keystore.Grant) bool {
	return a.GranteePrincipal == b.GranteePrincipal && a.RetiringPrincipal == b.RetiringPrincipal &&
		slices.Equal(a.Operations, b.Operations) && maps.Equal(a.EncryptionContextEquals, b.EncryptionContextEquals) &&
		maps.Equal(a.EncryptionContextSubset, b.EncryptionContextSubset) // nil and empty alike, as stored
}

// grantToken names a grant: prefix, then base64url of key ID, "/", grant ID,
// "/" and a MAC of both under a key derived from the root key (so a token
// cannot be forged to name another key's grant).
func (s *Server) grantToken(keyID, grantID string) string {
	mac := s.root.AliasMAC("grant-token/"+grantID, keyID)
	return grantTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(keyID+"/"+grantID+"/"+hex.EncodeToString(mac)))
}

// parseGrantToken returns the key and grant a token names, or
// InvalidGrantTokenException.
func (s *Server) parseGrantToken(tok string) (keyID, grantID string, err error) {
	bad := apiErr(CodeInvalidGrantToken, "The grant token is not valid.")
	rest, ok := strings.CutPrefix(tok, grantTokenPrefix)
	if !ok {
		return "", "", bad
	}
	b, derr := base64.RawURLEncoding.DecodeString(rest)
	if derr != nil {
		return "", "", bad
	}
	parts := strings.Split(string(b), "/")
	if len(parts) != 3 {
		return "", "", bad
	}
	mac, derr := hex.DecodeString(parts[2])
	if derr != nil || !s.root.AliasValid("grant-token/"+parts[1], parts[0], mac) {
		return "", "", bad
	}
	return parts[0], parts[1], nil
}

// checkGrantTokens bounds GrantTokens as AWS does (at most 10, each 1 to
// 8192 characters).
func checkGrantTokens(toks []string) error {
	if len(toks) > 10 {
		return validation("1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	for _, t := range toks {
		if len(t) < 1 || len(t) > 8192 {
			return validation("1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length between 1 and 8192")
		}
	}
	return nil
}

func (s *Server) listGrants(c *call, body []byte) (any, error) {
	var in listGrantsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit, err := limitIn(in.Limit, 50, 100)
	if err != nil {
		return nil, err
	}
	if in.GrantID != "" && !grantIDPattern.MatchString(in.GrantID) {
		return nil, apiErr(CodeInvalidGrantID, "Grant ID %q is not valid.", in.GrantID)
	}
	if err := keyIDOnly(c, "KeyId", in.KeyID); err != nil {
		return nil, err
	}
	k, err := s.loadKey(c, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:ListGrants", nil, nil); err != nil {
		return nil, err
	}
	var sel []keystore.Grant
	for _, g := range k.Grants {
		if (in.GrantID == "" || g.ID == in.GrantID) && (in.GranteePrincipal == "" || g.GranteePrincipal == in.GranteePrincipal) {
			sel = append(sel, g)
		}
	}
	return s.grantPage(sel, func(keystore.Grant) string { return k.ID }, in.Marker, limit)
}

func (s *Server) listRetirableGrants(c *call, body []byte) (any, error) {
	var in listRetirableGrantsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.RetiringServicePrincipal != "" {
		return nil, apiErr(CodeUnsupportedOperation, "service principals are not supported: no AWS service calls this server")
	}
	if in.RetiringPrincipal == "" {
		return nil, validation("1 validation error detected: Value null at 'retiringPrincipal' failed to satisfy constraint: Member must not be null")
	}
	if err := checkPrincipal("retiringPrincipal", in.RetiringPrincipal); err != nil {
		return nil, err
	}
	limit, err := limitIn(in.Limit, 50, 100)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeAccount(c, "kms:ListRetirableGrants", ""); err != nil {
		return nil, err
	}
	floors := s.marks.snapshot() // before the read: see seqMarks.checkFrom
	keys, err := s.store.ListKeys(c.ctx)
	if err != nil {
		return nil, err
	}
	var sel []keystore.Grant
	owner := map[string]string{}
	for _, k := range keys {
		if len(k.Grants) == 0 {
			continue
		}
		m, err := s.material(k) // only grants the root key vouches for
		if err == nil {
			err = s.checkSeqFrom(k.ID, m.seq, floors[k.ID]) // and not revoked since
		}
		if err != nil {
			s.cfg.Logger.Error("key record rejected", "key", s.keyARN(k.ID), "error", err)
			continue
		}
		for _, g := range k.Grants {
			if g.RetiringPrincipal == in.RetiringPrincipal {
				sel = append(sel, g)
				owner[g.ID] = k.ID
			}
		}
	}
	// Ordered by key, then grant ID, across keys.
	slices.SortFunc(sel, func(a, b keystore.Grant) int {
		return strings.Compare(owner[a.ID]+"/"+a.ID, owner[b.ID]+"/"+b.ID)
	})
	return s.grantPage(sel, func(g keystore.Grant) string { return owner[g.ID] }, in.Marker, limit)
}

// grantPage answers one page of grants, sorted by (key, grant ID) already
// or in creation order for one key.
func (s *Server) grantPage(sel []keystore.Grant, keyOf func(keystore.Grant) string, marker string, limit int) (any, error) {
	pos := make([]string, len(sel))
	for i, g := range sel {
		pos[i] = keyOf(g) + "/" + g.CreatedAt.UTC().Format("20060102150405.000000000") + "/" + g.ID
	}
	// Positions must be sorted for pageAfter: sort an index by them.
	idx := make([]int, len(sel))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(pos[a], pos[b]) })
	sorted := make([]string, len(idx))
	for i, j := range idx {
		sorted[i] = pos[j]
	}
	from, to, next, err := pageAfter(sorted, marker, limit)
	if err != nil {
		return nil, err
	}
	out := listGrantsOutput{Grants: []grantListEntry{}, NextMarker: next, Truncated: next != ""}
	for _, j := range idx[from:to] {
		g := sel[j]
		e := grantListEntry{KeyID: s.keyARN(keyOf(g)), GrantID: g.ID, Name: g.Name, CreationDate: epoch(g.CreatedAt),
			GranteePrincipal: g.GranteePrincipal, RetiringPrincipal: g.RetiringPrincipal, IssuingAccount: "arn:aws:iam::" + g.IssuingAccount + ":root",
			Operations: g.Operations}
		if len(g.EncryptionContextEquals) > 0 || len(g.EncryptionContextSubset) > 0 {
			e.Constraints = &grantConstraints{EncryptionContextEquals: g.EncryptionContextEquals, EncryptionContextSubset: g.EncryptionContextSubset}
		}
		out.Grants = append(out.Grants, e)
	}
	return out, nil
}

// retireGrant removes a grant at the request of its retiring principal,
// of its grantee when the grant includes RetireGrant, or of the key's
// account root, as AWS; no policy is consulted.
func (s *Server) retireGrant(c *call, body []byte) (any, error) {
	var in retireGrantInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	keyRef, grantID := in.KeyID, in.GrantID
	switch {
	case in.GrantToken != "":
		kid, gid, err := s.parseGrantToken(in.GrantToken)
		if err != nil {
			return nil, err
		}
		if (grantID != "" && grantID != gid) || (keyRef != "" && keyRef != kid && keyRef != s.keyARN(kid)) {
			return nil, validation("GrantToken names another grant than KeyId and GrantId")
		}
		keyRef, grantID = kid, gid
	case keyRef == "" || grantID == "":
		return nil, validation("RetireGrant needs GrantToken, or KeyId and GrantId")
	}
	if !grantIDPattern.MatchString(grantID) {
		return nil, apiErr(CodeInvalidGrantID, "Grant ID %q is not valid.", grantID)
	}
	if strings.HasPrefix(keyRef, "alias/") || strings.Contains(keyRef, ":alias/") {
		return nil, validation("KeyId must be a key ID or key ARN")
	}
	k, err := s.loadKey(c, keyRef)
	if err != nil {
		return nil, err
	}
	return s.removeGrant(c, k, grantID, func(g *keystore.Grant) error {
		if c.principal == g.RetiringPrincipal || c.principal == "arn:aws:iam::"+s.cfg.AccountID+":root" ||
			(c.principal == g.GranteePrincipal && slices.Contains(g.Operations, "RetireGrant")) {
			c.ev.PolicyReason = "the grant names the caller as one who may retire it"
			return nil
		}
		return apiErr(CodeAccessDenied, "User: %s is not authorized to perform: kms:RetireGrant on grant %s of %s: only its retiring principal, its grantee (when the grant includes RetireGrant) or the account may retire it",
			c.principal, grantID, s.keyARN(k.ID))
	}, in.DryRun, "kms:RetireGrant")
}

func (s *Server) revokeGrant(c *call, body []byte) (any, error) {
	var in retireGrantInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.GrantID == "" {
		return nil, validation("1 validation error detected: Value null at 'grantId' failed to satisfy constraint: Member must not be null")
	}
	if !grantIDPattern.MatchString(in.GrantID) {
		return nil, apiErr(CodeInvalidGrantID, "Grant ID %q is not valid.", in.GrantID)
	}
	if err := keyIDOnly(c, "KeyId", in.KeyID); err != nil {
		return nil, err
	}
	k, err := s.loadKey(c, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:RevokeGrant", nil, nil); err != nil {
		return nil, err
	}
	return s.removeGrant(c, k, in.GrantID, func(*keystore.Grant) error { return nil }, in.DryRun, "kms:RevokeGrant")
}

// removeGrant deletes a grant of k after allowed accepts it; NotFound when
// k has no such grant.
func (s *Server) removeGrant(c *call, k *keystore.Key, grantID string, allowed func(*keystore.Grant) error, dry bool, action string) (any, error) {
	i := slices.IndexFunc(k.Grants, func(g keystore.Grant) bool { return g.ID == grantID })
	if i < 0 {
		return nil, apiErr(CodeNotFound, "Grant %s of %s is not found.", grantID, s.keyARN(k.ID))
	}
	if err := allowed(&k.Grants[i]); err != nil {
		return nil, err
	}
	if dry {
		return nil, dryRun(action)
	}
	_, err := s.updateSealed(c.ctx, k.ID, s.rebind(func(k *keystore.Key) error {
		i := slices.IndexFunc(k.Grants, func(g keystore.Grant) bool { return g.ID == grantID })
		if i < 0 {
			return apiErr(CodeNotFound, "Grant %s of %s is not found.", grantID, s.keyARN(k.ID))
		}
		k.Grants = slices.Delete(k.Grants, i, i+1)
		return nil
	}))
	if err != nil {
		return nil, err
	}
	return empty{}, nil
}

type grantConstraints struct {
	EncryptionContextSubset map[string]string `json:"EncryptionContextSubset,omitempty"`
	EncryptionContextEquals map[string]string `json:"EncryptionContextEquals,omitempty"`
}

type createGrantInput struct {
	KeyID                    string            `json:"KeyId"`
	GranteePrincipal         string            `json:"GranteePrincipal"`
	GranteeServicePrincipal  string            `json:"GranteeServicePrincipal"`
	RetiringPrincipal        string            `json:"RetiringPrincipal"`
	RetiringServicePrincipal string            `json:"RetiringServicePrincipal"`
	Operations               []string          `json:"Operations"`
	Constraints              *grantConstraints `json:"Constraints"`
	GrantTokens              []string          `json:"GrantTokens"`
	Name                     string            `json:"Name"`
	DryRun                   bool              `json:"DryRun"`
}

type createGrantOutput struct {
	GrantID    string `json:"GrantId"`
	GrantToken string `json:"GrantToken"`
}

type listGrantsInput struct {
	KeyID            string `json:"KeyId"`
	GrantID          string `json:"GrantId"`
	GranteePrincipal string `json:"GranteePrincipal"`
	Limit            *int   `json:"Limit"`
	Marker           string `json:"Marker"`
}

type listRetirableGrantsInput struct {
	RetiringPrincipal        string `json:"RetiringPrincipal"`
	RetiringServicePrincipal string `json:"RetiringServicePrincipal"`
	Limit                    *int   `json:"Limit"`
	Marker                   string `json:"Marker"`
}

type grantListEntry struct {
	KeyID             string            `json:"KeyId"`
	GrantID           string            `json:"GrantId"`
	Name              string            `json:"Name,omitempty"`
	CreationDate      float64           `json:"CreationDate"`
	GranteePrincipal  string            `json:"GranteePrincipal"`
	RetiringPrincipal string            `json:"RetiringPrincipal,omitempty"`
	IssuingAccount    string            `json:"IssuingAccount"`
	Operations        []string          `json:"Operations"`
	Constraints       *grantConstraints `json:"Constraints,omitempty"`
}

type listGrantsOutput struct {
	Grants     []grantListEntry `json:"Grants"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

type retireGrantInput struct {
	GrantToken string `json:"GrantToken"`
	KeyID      string `json:"KeyId"`
	GrantID    string `json:"GrantId"`
	DryRun     bool   `json:"DryRun"`
}
