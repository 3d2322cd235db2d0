// SPDX-License-Identifier: Apache-2.0

package kmsserver

// CreateAlias, UpdateAlias, DeleteAlias and ListAliases.

import (
	"errors"
	"sort"
	"strings"
	"time"

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
	created, err := s.aliasCreationTime(c, in.AliasName)
	if err != nil {
		return nil, err
	}
	a := keystore.Alias{Name: in.AliasName, KeyID: k.ID, CreatedAt: created}
	s.sealAlias(&a, 1)
	err = s.store.CreateAlias(c.ctx, a)
	switch {
	case errors.Is(err, keystore.ErrExists):
		return nil, apiErr(CodeAlreadyExists, "An alias with the name %s already exists", s.aliasARN(in.AliasName))
	case errors.Is(err, keystore.ErrNotFound):
		return nil, apiErr(CodeNotFound, "Key '%s' does not exist", s.keyARN(k.ID))
	case err != nil:
		return nil, err
	}
	s.aliasMarks.raise(a.Name, aliasVersion{created: a.CreatedAt, seq: a.Seq})
	return empty{}, nil
}

// aliasUpdateAttempts bounds how often updateAlias starts again when the
// alias moved to another key between its authorization and its write.
const aliasUpdateAttempts = 3

// errAliasMoved: the alias named another key, inside the store's
// transaction, than the one the caller was authorized on.
var errAliasMoved = errors.New("kmsserver: the alias moved to another key during UpdateAlias")

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
	for attempt := 1; ; attempt++ {
		err := s.updateAliasOnce(c, in)
		if !errors.Is(err, errAliasMoved) {
			if err != nil {
				return nil, err
			}
			return empty{}, nil
		}
		if attempt == aliasUpdateAttempts {
			return nil, apiErr(CodeThrottling, "Alias %s changed concurrently %d times; retry the request.", s.aliasARN(in.AliasName), attempt)
		}
	}
}

// updateAliasOnce authorizes the caller on the key alias in names and on
// the new key, then writes the alias's next record conditionally: inside
// the store's transaction, on the record as stored then, which must pass
// its MAC and the rollback marks (aliasrollback.go) and still name the
// key the caller was authorized on (else errAliasMoved). The new record
// carries the next sequence number, sealed.
func (s *Server) updateAliasOnce(c *call, in aliasInput) error {
	old, err := s.loadKey(c, in.AliasName)
	if err != nil {
		return err
	}
	if err := s.authorize(c, old, "kms:UpdateAlias", nil, nil); err != nil {
		return err
	}
	k, err := s.loadKey(c, in.TargetKeyID)
	if err != nil {
		return err
	}
	if err := s.authorize(c, k, "kms:UpdateAlias", nil, nil); err != nil {
		return err
	}
	if k.State == keystore.StatePendingDeletion {
		return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
	}
	if keyType(k.KeySpec) != keyType(old.KeySpec) || k.KeyUsage != old.KeyUsage {
		return validation("%s is not the same type of key (%s, %s) as %s (%s, %s), which alias %s names",
			s.keyARN(k.ID), k.KeySpec, k.KeyUsage, s.keyARN(old.ID), old.KeySpec, old.KeyUsage, in.AliasName)
	}
	var written keystore.Alias
	err = s.store.UpdateAlias(c.ctx, in.AliasName, func(a *keystore.Alias) error {
		// Under the store's lock: no committed record is newer.
		v, err := s.checkAliasFrom(*a, s.aliasMarks.get(a.Name))
		if err != nil {
			return err
		}
		if a.KeyID != old.ID {
			return errAliasMoved
		}
		a.KeyID = k.ID
		a.UpdatedAt = c.now.UTC()
		if a.UpdatedAt.Before(a.CreatedAt) { // created by the store's clock
			a.UpdatedAt = a.CreatedAt
		}
		s.sealAlias(a, v.seq+1)
		written = a.Clone()
		return nil
	})
	if errors.Is(err, keystore.ErrNotFound) {
		// The alias was deleted, or the key destroyed, meanwhile.
		return apiErr(CodeNotFound, "Alias %s or key %s is not found.", s.aliasARN(in.AliasName), s.keyARN(k.ID))
	}
	if err != nil {
		return err
	}
	s.aliasMarks.raise(written.Name, aliasVersion{created: written.CreatedAt, seq: written.Seq})
	return nil
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
	floor := s.aliasMarks.get(in.AliasName)
	a, err := s.store.GetAlias(c.ctx, in.AliasName)
	if errors.Is(err, keystore.ErrNotFound) {
		if floor != nil {
			s.aliasMarks.bury(in.AliasName, floor.created)
		}
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
	// No record of the alias deleted, nor of any before it, is taken
	// again. (The record deleted is not checked against the marks: a
	// replayed one may be deleted, which is how to be rid of it.)
	dead := time.Time{}
	if v, err := s.openAlias(a); err == nil {
		dead = v.created
	}
	if floor != nil && floor.created.After(dead) {
		dead = floor.created
	}
	s.aliasMarks.bury(in.AliasName, dead)
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
		if err := keyIDOnly(c, "KeyId", in.KeyID); err != nil {
			return nil, err
		}
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
