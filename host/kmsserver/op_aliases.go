// SPDX-License-Identifier: Apache-2.0

package kmsserver

// CreateAlias, UpdateAlias, DeleteAlias and ListAliases.

import (
	"errors"
	"sort"
	"strings"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

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
	if err := s.authorizeAccount(c, "kms:CreateAlias", s.aliasARN(in.AliasName)); err != nil {
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
	err = s.store.CreateAlias(c.ctx, keystore.Alias{Name: in.AliasName, KeyID: k.ID, CreatedAt: c.now.UTC(), MAC: s.root.AliasMAC(in.AliasName, k.ID)})
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

// updateAlias points an alias at another key in one store operation
// (keystore.Store.UpdateAlias): the alias is never free, so no one can
// create it in between. As AWS: the caller needs kms:UpdateAlias on the
// alias (identity policy) and on both keys (their key policies); the new
// key must be of the same type and usage as the old one.
func (s *Server) updateAlias(c *call, body []byte) (any, error) {
	var in aliasInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.validAliasName(in.AliasName); err != nil {
		return nil, err
	}
	if in.TargetKeyID == "" {
		return nil, validation("1 validation error detected: Value null at 'targetKeyId' failed to satisfy constraint: Member must not be null")
	}
	if err := s.authorizeAccount(c, "kms:UpdateAlias", s.aliasARN(in.AliasName)); err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.TargetKeyID, "alias/") || strings.Contains(in.TargetKeyID, ":alias/") {
		return nil, validation("TargetKeyId must be a key ID or key ARN, not an alias")
	}
	old, err := s.loadKey(c, in.AliasName)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, old, "kms:UpdateAlias", nil, nil); err != nil {
		return nil, err
	}
	k, err := s.loadKey(c, in.TargetKeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:UpdateAlias", nil, nil); err != nil {
		return nil, err
	}
	if k.State == keystore.StatePendingDeletion {
		return nil, apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
	}
	if keyType(k.KeySpec) != keyType(old.KeySpec) || k.KeyUsage != old.KeyUsage {
		return nil, validation("%s is not the same type of key (%s, %s) as %s (%s, %s), which alias %s names",
			s.keyARN(k.ID), k.KeySpec, k.KeyUsage, s.keyARN(old.ID), old.KeySpec, old.KeyUsage, in.AliasName)
	}
	err = s.store.UpdateAlias(c.ctx, keystore.Alias{Name: in.AliasName, KeyID: k.ID, UpdatedAt: c.now.UTC(), MAC: s.root.AliasMAC(in.AliasName, k.ID)})
	if errors.Is(err, keystore.ErrNotFound) {
		// The alias was deleted, or the key destroyed, meanwhile.
		return nil, apiErr(CodeNotFound, "Alias %s or key %s is not found.", s.aliasARN(in.AliasName), s.keyARN(k.ID))
	}
	if err != nil {
		return nil, err
	}
	return empty{}, nil
}

// keyType is the class of a key spec UpdateAlias compares: symmetric,
// HMAC or asymmetric.
func keyType(spec string) string {
	switch {
	case spec == specSymmetric:
		return "symmetric"
	case strings.HasPrefix(spec, "HMAC_"):
		return "hmac"
	}
	return "asymmetric"
}

func (s *Server) deleteAlias(c *call, body []byte) (any, error) {
	var in aliasInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(in.AliasName, "alias/") {
		return nil, apiErr(CodeInvalidAliasName, "Alias name must begin with 'alias/'")
	}
	if err := s.authorizeAccount(c, "kms:DeleteAlias", s.aliasARN(in.AliasName)); err != nil {
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
	// Before the KeyId filter is resolved: whether a key exists is not
	// for principals without kms:ListAliases.
	if err := s.authorizeAccount(c, "kms:ListAliases", ""); err != nil {
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
		d, u := epoch(a.CreatedAt), epoch(a.CreatedAt)
		if !a.UpdatedAt.IsZero() {
			u = epoch(a.UpdatedAt)
		}
		out.Aliases = append(out.Aliases, aliasListEntry{AliasName: a.Name, AliasArn: s.aliasARN(a.Name),
			TargetKeyID: a.KeyID, CreationDate: &d, LastUpdatedDate: &u})
	}
	return out, nil
}

type aliasInput struct {
	AliasName   string `json:"AliasName"`
	TargetKeyID string `json:"TargetKeyId"`
}

type aliasListEntry struct {
	AliasName       string   `json:"AliasName"`
	AliasArn        string   `json:"AliasArn"`
	TargetKeyID     string   `json:"TargetKeyId,omitempty"`
	CreationDate    *float64 `json:"CreationDate,omitempty"`
	LastUpdatedDate *float64 `json:"LastUpdatedDate,omitempty"`
}

type listAliasesOutput struct {
	Aliases    []aliasListEntry `json:"Aliases"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
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
