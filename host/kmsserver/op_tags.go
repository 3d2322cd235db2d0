// SPDX-License-Identifier: Apache-2.0

package kmsserver

// TagResource, UntagResource and ListResourceTags, and the Tags of
// CreateKey, with AWS's rules: a tag key of 1 to 128 characters not
// beginning with "aws:", a value of 0 to 256, both of letters, digits,
// spaces and _ . : / = + - @; at most 50 tags per key.

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

const (
	maxTagsPerKey  = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

var tagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// checkTagKey validates one tag key (TagResource, UntagResource, CreateKey).
func checkTagKey(k string) error {
	n := utf8.RuneCountInString(k)
	if n < 1 || n > maxTagKeyLen || !utf8.ValidString(k) {
		return validation("1 validation error detected: Value '%s' at 'tagKey' failed to satisfy constraint: Member must have length between 1 and %d", k, maxTagKeyLen)
	}
	if !tagChars.MatchString(k) {
		return apiErr(CodeTag, "Tag key %q contains characters that are not allowed", k)
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return apiErr(CodeTag, "Tag key %q: keys beginning with aws: are reserved", k)
	}
	return nil
}

// checkTags validates the tags of a request: each tag, and no tag key
// twice.
func checkTags(tags []tag) error {
	if len(tags) > maxTagsPerKey {
		return apiErr(CodeLimitExceeded, "A key can have at most %d tags; the request has %d", maxTagsPerKey, len(tags))
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if err := checkTagKey(t.TagKey); err != nil {
			return err
		}
		if utf8.RuneCountInString(t.TagValue) > maxTagValueLen || !utf8.ValidString(t.TagValue) {
			return validation("1 validation error detected: Value at 'tagValue' failed to satisfy constraint: Member must have length less than or equal to %d", maxTagValueLen)
		}
		if !tagChars.MatchString(t.TagValue) {
			return apiErr(CodeTag, "Tag value for key %q contains characters that are not allowed", t.TagKey)
		}
		if seen[t.TagKey] {
			return apiErr(CodeTag, "Duplicate tag key %q", t.TagKey)
		}
		seen[t.TagKey] = true
	}
	return nil
}

// mergeTags sets tags on k (a value replaced for a key it has), keeping
// them sorted by key; more than maxTagsPerKey is LimitExceededException.
func mergeTags(k *keystore.Key, tags []tag) error {
	for _, t := range tags {
		i, found := slices.BinarySearchFunc(k.Tags, t.TagKey, func(a keystore.Tag, key string) int { return strings.Compare(a.Key, key) })
		if found {
			k.Tags[i].Value = t.TagValue
			continue
		}
		k.Tags = slices.Insert(k.Tags, i, keystore.Tag{Key: t.TagKey, Value: t.TagValue})
	}
	if len(k.Tags) > maxTagsPerKey {
		return apiErr(CodeLimitExceeded, "%s would have %d tags; a key can have at most %d", "The key", len(k.Tags), maxTagsPerKey)
	}
	return nil
}

func (s *Server) tagResource(c *call, body []byte) (any, error) {
	var in tagResourceInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Tags == nil {
		return nil, validation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	c.cond = requestTagConditions(nil, in.Tags)
	k, err := s.keyOfOwnAccount(c, in.KeyID, "kms:TagResource")
	if err != nil {
		return nil, err
	}
	// Tags are bound to the material (aws:ResourceTag decides access):
	// the change rewraps it.
	_, err = s.updateSealed(c.ctx, k.ID, s.rebind(func(k *keystore.Key) error {
		if k.State == keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
		}
		return mergeTags(k, in.Tags)
	}))
	if err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) untagResource(c *call, body []byte) (any, error) {
	var in untagResourceInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TagKeys == nil {
		return nil, validation("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	if len(in.TagKeys) > maxTagsPerKey {
		return nil, apiErr(CodeLimitExceeded, "At most %d tag keys can be removed at once", maxTagsPerKey)
	}
	for _, tk := range in.TagKeys {
		if err := checkTagKey(tk); err != nil {
			return nil, err
		}
	}
	c.cond = policy.AddTagKeys(nil, in.TagKeys)
	k, err := s.keyOfOwnAccount(c, in.KeyID, "kms:UntagResource")
	if err != nil {
		return nil, err
	}
	_, err = s.updateSealed(c.ctx, k.ID, s.rebind(func(k *keystore.Key) error {
		if k.State == keystore.StatePendingDeletion {
			return apiErr(CodeInvalidState, "%s is pending deletion.", s.keyARN(k.ID))
		}
		k.Tags = slices.DeleteFunc(k.Tags, func(t keystore.Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
		return nil
	}))
	if err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) listResourceTags(c *call, body []byte) (any, error) {
	var in listKeyPagedInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit, err := limitIn(in.Limit, 50, 50)
	if err != nil {
		return nil, err
	}
	k, err := s.keyOfOwnAccount(c, in.KeyID, "kms:ListResourceTags")
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(k.Tags))
	for i, t := range k.Tags {
		keys[i] = t.Key
	}
	from, to, next, err := pageAfter(keys, in.Marker, limit)
	if err != nil {
		return nil, err
	}
	out := listResourceTagsOutput{Tags: []tag{}, NextMarker: next, Truncated: next != ""}
	for _, t := range k.Tags[from:to] {
		out.Tags = append(out.Tags, tag{TagKey: t.Key, TagValue: t.Value})
	}
	return out, nil
}

type tagResourceInput struct {
	KeyID string `json:"KeyId"`
	Tags  []tag  `json:"Tags"`
}

type untagResourceInput struct {
	KeyID   string   `json:"KeyId"`
	TagKeys []string `json:"TagKeys"`
}

// listKeyPagedInput is the input of the list operations of one key.
type listKeyPagedInput struct {
	KeyID  string `json:"KeyId"`
	Limit  *int   `json:"Limit"`
	Marker string `json:"Marker"`
}

type listResourceTagsOutput struct {
	Tags       []tag  `json:"Tags"`
	NextMarker string `json:"NextMarker,omitempty"`
	Truncated  bool   `json:"Truncated"`
}
