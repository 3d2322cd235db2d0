// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Naming keys: key IDs, key ARNs, alias names and alias ARNs.

import (
	"errors"
	"regexp"
	"strings"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
)

var aliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)

// isKeyID reports whether id is a lower-case UUID (8-4-4-4-12 hex digits),
// as ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ would,
// without a regexp match on every request.
func isKeyID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// arnPartition is the partition of every ARN the server builds (keys,
// aliases, and the account's root principal in key policies and grants),
// whatever its region; a key or alias ARN in another partition names no
// key of this server.
const arnPartition = "aws"

func (s *Server) keyARN(id string) string {
	return "arn:" + arnPartition + ":kms:" + s.cfg.Region + ":" + s.cfg.AccountID + ":key/" + id
}

func (s *Server) aliasARN(name string) string {
	return "arn:" + arnPartition + ":kms:" + s.cfg.Region + ":" + s.cfg.AccountID + ":" + name
}

// isAliasRef reports whether ref is an alias name (alias/NAME) or an alias
// ARN (arn:...:alias/NAME).
func isAliasRef(ref string) bool {
	return strings.HasPrefix(ref, "alias/") || strings.Contains(ref, ":alias/")
}

// keyIDOnly refuses an alias name or alias ARN in field (KeyId) of c's
// operation, one whose field the AWS KMS API Reference says takes "the key
// ID or key ARN" only: the key policy, key state, tag, description,
// rotation, grant and import operations, GetKeyLastUsage and ListAliases
// (docs/kms-compatibility.md lists them; RetireGrant's KeyId and
// CreateAlias's and UpdateAlias's TargetKeyId are refused as validation
// errors instead). It answers NotFoundException,
// as KMS does, before the key is looked up or the caller authorized, so it
// says nothing of the alias. (A caller of another account cannot name a
// key by alias in KMS anyway.)
func keyIDOnly(c *call, field, ref string) error {
	if !isAliasRef(ref) {
		return nil
	}
	where := c.op
	if field != "KeyId" {
		where += "'s " + field
	}
	return apiErr(CodeNotFound, "Alias names are not supported by %s; specify the key ID or key ARN", where)
}

// resolveKeyID maps a key ID, key ARN, alias name or alias ARN to a key ID.
func (s *Server) resolveKeyID(c *call, ref string) (string, error) {
	if ref == "" {
		return "", validation("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	if len(ref) > 2048 {
		return "", validation("KeyId is longer than 2048 characters")
	}
	name := ref
	if rest, ok := strings.CutPrefix(ref, "arn:"); ok {
		// arn:<partition>:kms:<region>:<account>:key/<id> | alias/<name>
		parts := strings.SplitN(rest, ":", 5)
		if len(parts) != 5 || parts[1] != "kms" {
			return "", apiErr(CodeNotFound, "Invalid arn %s", ref)
		}
		if parts[0] != arnPartition || parts[2] != s.cfg.Region || parts[3] != s.cfg.AccountID {
			return "", apiErr(CodeNotFound, "Key '%s' does not exist", ref)
		}
		name = parts[4]
		if id, ok := strings.CutPrefix(name, "key/"); ok {
			return id, nil
		}
		if !strings.HasPrefix(name, "alias/") {
			return "", apiErr(CodeNotFound, "Invalid arn %s", ref)
		}
	}
	if strings.HasPrefix(name, "alias/") {
		floor := s.aliasMarks.get(name)
		a, err := s.store.GetAlias(c.ctx, name)
		if errors.Is(err, keystore.ErrNotFound) {
			if floor != nil {
				// Seen before, gone now: deleted (the alias a later
				// CreateAlias makes is created later).
				s.aliasMarks.bury(name, floor.created)
			}
			return "", apiErr(CodeNotFound, "Alias %s is not found.", s.aliasARN(name))
		}
		if err != nil {
			return "", err
		}
		if _, err := s.checkAliasFrom(a, floor); err != nil {
			return "", err
		}
		c.noteRequestAlias(a.KeyID, name)
		return a.KeyID, nil
	}
	return name, nil
}

var errAliasIntegrity = errors.New("kmsserver: alias record fails its integrity check (modified in the store, or a different root key)")
