// SPDX-License-Identifier: Apache-2.0

package kmsserver

// CreateKey, DescribeKey and ListKeys. CreateKey makes keys of every spec
// package keyspec implements (asymmetric.go validates and generates them).

import (
	"io"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/host/kmsserver/keymaterial"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

func (s *Server) createKey(c *call, body []byte) (any, error) {
	var in createKeyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.cond = requestTagConditions(createKeyConditions(in.KeySpec, in.CustomerMasterKeySpec, in.KeyUsage), in.Tags)
	err := s.authorizeAccount(c, "kms:CreateKey", "")
	c.cond = nil
	if err != nil {
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
	switch {
	case spec == specSymmetric:
		if usage == "" {
			usage = usageEncrypt
		}
		if usage != usageEncrypt {
			return nil, validation("KeyUsage %s is not valid for KeySpec %s", usage, spec)
		}
	case keymaterial.IsHMAC(spec):
		if usage != usageMAC {
			return nil, validation("KeyUsage must be %s for KeySpec %s", usageMAC, spec)
		}
	default: // asymmetric and ML-KEM specs, and the errors for unknown ones
		var err error
		if usage, err = checkNewKeySpec(spec, usage); err != nil {
			return nil, err
		}
	}
	external := in.Origin == keystore.OriginExternal
	if external && !importableSpec(spec) {
		return nil, apiErr(CodeUnsupportedOperation, "Origin EXTERNAL is not supported for %s keys; this server imports %s key material", spec, importableSpecNames)
	}
	if in.Origin != "" && in.Origin != "AWS_KMS" && !external {
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
	if len(in.Tags) > 0 {
		if err := checkTags(in.Tags); err != nil {
			return nil, err
		}
		// AWS: tagging at creation needs kms:TagResource in the
		// principal's identity policy too.
		c.cond = requestTagConditions(nil, in.Tags)
		err := s.authorizeAccount(c, "kms:TagResource", "")
		c.cond = nil
		if err != nil {
			return nil, err
		}
	}
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return nil, err
	}
	id := formatUUID(b)
	c.ev.KeyARN = s.keyARN(id)
	polText := string(policy.DefaultKeyPolicy(s.cfg.AccountID))
	k := &keystore.Key{ID: id, CreatedAt: c.now.UTC(), UsageTrackingStart: c.now.UTC(), Description: in.Description, KeySpec: spec,
		KeyUsage: usage, State: keystore.StateEnabled}
	if err := mergeTags(k, in.Tags); err != nil {
		return nil, err
	}
	if in.Policy != nil {
		// k carries the request's tags: the check sees the key as it
		// will be created.
		if err := s.checkNewPolicy(c, k, *in.Policy, in.BypassPolicyLockoutSafetyCheck); err != nil {
			return nil, err
		}
		polText = *in.Policy
	}
	k.Policy = polText
	var raw []byte
	if external { // no material until ImportKeyMaterial (op_import.go)
		k.Origin, k.State = keystore.OriginExternal, keystore.StatePendingImport
	} else if raw, err = s.generateMaterial(spec); err != nil {
		return nil, err
	}
	if spec == specSymmetric && !external { // the keys that rotate: their blobs name the material
		if k.MaterialID, err = keymaterial.NewMaterialID(s.rand); err != nil {
			return nil, err
		}
	}
	if err := s.seal(k, raw); err != nil { // sequence 1
		return nil, err
	}
	if err := s.store.CreateKey(c.ctx, k); err != nil {
		return nil, err
	}
	return keyMetadataOutput{KeyMetadata: s.metadata(k, c.keyState(k))}, nil
}

// checkNewPolicy parses a key policy and, unless bypass, refuses one that
// would lock the caller out of PutKeyPolicy (KMS's lockout safety check)
// on key k. The new policy decides a PutKeyPolicy request of the caller
// with the context that request would have: the transport keys of this
// request, k's kms:KeySpec and kms:KeyUsage, its aliases
// (kms:ResourceAliases) and its tags (aws:ResourceTag/<key>). The tags are
// k's as they stand after this request, which binds them to the material
// (CreateKey's, or the stored ones that PutKeyPolicy rebinds); the caller
// is not further authorized by them: it already is for this request.
func (s *Server) checkNewPolicy(c *call, k *keystore.Key, text string, bypass bool) error {
	if len(text) > 32768 {
		return apiErr(CodeMalformedPolicy, "the key policy is longer than 32768 characters")
	}
	p, err := policy.Parse([]byte(text))
	if err != nil {
		return apiErr(CodeMalformedPolicy, "%v", err)
	}
	if bypass {
		return nil
	}
	const action = "kms:PutKeyPolicy"
	saved := c.cond // CreateKey's request keys are not a PutKeyPolicy's
	c.cond = nil
	req := s.policyRequest(c, k.ID, action, nil, nil, p)
	addKeyConditions(c, k, action, req.Context)
	c.cond = saved
	if err := s.addResourceAliases(c, k, req.Context, p); err != nil {
		return err
	}
	if p.UsesResourceTags() {
		addKeyTags(k, req.Context)
	}
	if d := p.Evaluate(req); !d.Allowed {
		return apiErr(CodeMalformedPolicy, "The new key policy will not allow you to update the key policy in the future (%s).", d.Reason)
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
	return keyMetadataOutput{KeyMetadata: s.metadata(k, c.keyState(k))}, nil
}

func (s *Server) listKeys(c *call, body []byte) (any, error) {
	var in listInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.authorizeAccount(c, "kms:ListKeys", ""); err != nil {
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

// metadata is k's KeyMetadata, with state its state for the request
// (call.keyState).
func (s *Server) metadata(k *keystore.Key, state string) keyMetadata {
	m := keyMetadata{
		AWSAccountID:          s.cfg.AccountID,
		KeyID:                 k.ID,
		Arn:                   s.keyARN(k.ID),
		CreationDate:          epoch(k.CreatedAt),
		Enabled:               state == keystore.StateEnabled,
		Description:           k.Description,
		KeyUsage:              k.KeyUsage,
		KeyState:              state,
		Origin:                origin(k),
		KeyManager:            "CUSTOMER",
		CustomerMasterKeySpec: k.KeySpec,
		KeySpec:               k.KeySpec,
	}
	if k.KeySpec == specSymmetric {
		m.EncryptionAlgorithms = []string{specSymmetric}
		m.CurrentKeyMaterialID = displayMaterialID(k.ID, k.MaterialID)
	} else if strings.HasPrefix(k.KeySpec, "HMAC_") {
		m.MacAlgorithms = []string{"HMAC_SHA_" + strings.TrimPrefix(k.KeySpec, "HMAC_")}
	}
	addAlgorithms(&m, k.KeySpec, k.KeyUsage)
	if k.Origin == keystore.OriginExternal {
		if state == keystore.StatePendingImport {
			m.CurrentKeyMaterialID = ""
		} else if k.ValidTo.IsZero() {
			m.ExpirationModel = expirationDoesNotExpire
		} else {
			m.ExpirationModel = expirationExpires
			v := epoch(k.ValidTo)
			m.ValidTo = &v
		}
	}
	if k.State == keystore.StatePendingDeletion {
		d := epoch(k.DeletionDate)
		m.DeletionDate = &d
		w := k.PendingWindowInDays
		m.PendingDeletionWindowInDay = &w
	}
	return m
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

type createKeyInput struct {
	Policy                         *string `json:"Policy"`
	Description                    string  `json:"Description"`
	KeyUsage                       string  `json:"KeyUsage"`
	CustomerMasterKeySpec          string  `json:"CustomerMasterKeySpec"`
	KeySpec                        string  `json:"KeySpec"`
	Origin                         string  `json:"Origin"`
	CustomKeyStoreID               string  `json:"CustomKeyStoreId"`
	BypassPolicyLockoutSafetyCheck bool    `json:"BypassPolicyLockoutSafetyCheck"`
	Tags                           []tag   `json:"Tags"`
	MultiRegion                    bool    `json:"MultiRegion"`
	XksKeyID                       string  `json:"XksKeyId"`
}

type tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

type keyMetadata struct {
	AWSAccountID               string   `json:"AWSAccountId"`
	KeyID                      string   `json:"KeyId"`
	Arn                        string   `json:"Arn"`
	CreationDate               float64  `json:"CreationDate"`
	Enabled                    bool     `json:"Enabled"`
	Description                string   `json:"Description"`
	KeyUsage                   string   `json:"KeyUsage"`
	KeyState                   string   `json:"KeyState"`
	DeletionDate               *float64 `json:"DeletionDate,omitempty"`
	PendingDeletionWindowInDay *int     `json:"PendingDeletionWindowInDays,omitempty"`
	Origin                     string   `json:"Origin"`
	KeyManager                 string   `json:"KeyManager"`
	CustomerMasterKeySpec      string   `json:"CustomerMasterKeySpec"`
	KeySpec                    string   `json:"KeySpec"`
	EncryptionAlgorithms       []string `json:"EncryptionAlgorithms,omitempty"`
	MacAlgorithms              []string `json:"MacAlgorithms,omitempty"`
	SigningAlgorithms          []string `json:"SigningAlgorithms,omitempty"`
	KeyAgreementAlgorithms     []string `json:"KeyAgreementAlgorithms,omitempty"`
	EncapsulationAlgorithms    []string `json:"EncapsulationAlgorithms,omitempty"`
	MultiRegion                bool     `json:"MultiRegion"`
	CurrentKeyMaterialID       string   `json:"CurrentKeyMaterialId,omitempty"`
	ExpirationModel            string   `json:"ExpirationModel,omitempty"`
	ValidTo                    *float64 `json:"ValidTo,omitempty"`
}

// origin is k's Origin as KMS names it.
func origin(k *keystore.Key) string {
	if k.Origin == keystore.OriginExternal {
		return keystore.OriginExternal
	}
	return "AWS_KMS"
}

type keyMetadataOutput struct {
	KeyMetadata keyMetadata `json:"KeyMetadata"`
}

type listInput struct {
	Limit  *int   `json:"Limit"`
	Marker string `json:"Marker"`
	KeyID  string `json:"KeyId"` // ListAliases only
}

type keyListEntry struct {
	KeyID  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

type listKeysOutput struct {
	Keys       []keyListEntry `json:"Keys"`
	NextMarker string         `json:"NextMarker,omitempty"`
	Truncated  bool           `json:"Truncated"`
}
