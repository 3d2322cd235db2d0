// SPDX-License-Identifier: Apache-2.0

package kmsserver

// GetKeyLastUsage: the last successful cryptographic operation on a key
// (usage.go keeps it), merged from this server's memory and the store.

func (s *Server) getKeyLastUsage(c *call, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.KeyID == "" {
		return nil, validation("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	k, err := s.keyOfOwnAccount(c, in.KeyID, "kms:GetKeyLastUsage")
	if err != nil {
		return nil, err
	}
	last := k.LastUsage
	if mem := s.usage.last(k.ID); mem.Time.After(last.Time) {
		last = mem
	}
	out := getKeyLastUsageOutput{KeyID: k.ID, // KMS: the key ID, as DescribeKey's KeyMetadata.KeyId
		KeyCreationDate:   epoch(k.CreatedAt),
		TrackingStartDate: epoch(s.trackingStart(k)), KeyLastUsage: keyLastUsage{}}
	if !last.Time.IsZero() {
		ts := epoch(last.Time)
		out.KeyLastUsage = keyLastUsage{Operation: last.Operation, Timestamp: &ts, KmsRequestID: last.RequestID}
	}
	return out, nil
}

type getKeyLastUsageOutput struct {
	KeyID             string       `json:"KeyId"`
	KeyCreationDate   float64      `json:"KeyCreationDate"`
	TrackingStartDate float64      `json:"TrackingStartDate"`
	KeyLastUsage      keyLastUsage `json:"KeyLastUsage"`
}

// keyLastUsage is KMS's KeyLastUsageData: an empty object for a key not
// used since tracking began. CloudTrailEventId is never set: this server
// has no CloudTrail, and its audit line is found by KmsRequestId.
type keyLastUsage struct {
	Operation    string   `json:"Operation,omitempty"`
	Timestamp    *float64 `json:"Timestamp,omitempty"`
	KmsRequestID string   `json:"KmsRequestId,omitempty"`
}
