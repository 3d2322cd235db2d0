// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
)

// PCRKey returns the condition key for PCR index i,
// "kms:RecipientAttestation:PCR<i>".
func PCRKey(i int) string { return KeyPCRPrefix + strconv.Itoa(i) }

// AddAttestation adds the condition keys of a verified attestation document to
// ctx (allocating it when nil) and returns it: kms:RecipientAttestation:PCR<n>
// for every PCR, and kms:RecipientAttestation:ImageSha384 (= PCR0), all as
// lower-case hex as AWS KMS presents them. Call it only with the PCRs of an
// enclave document that passed verification (attestation.Verify; for a
// NitroTPM document, [AddNitroTPMAttestation]); with no document, add nothing, and
// attestation conditions fail ("no attestation document presented").
func AddAttestation(ctx map[string][]string, pcrs map[int][]byte) map[string][]string {
	if ctx == nil {
		ctx = make(map[string][]string, len(pcrs)+1)
	}
	for i, v := range pcrs {
		if i < 0 || i > MaxPCR {
			continue
		}
		h := hex.EncodeToString(v)
		ctx[PCRKey(i)] = []string{h}
		if i == 0 {
			ctx[KeyImageSha384] = []string{h}
		}
	}
	return ctx
}

// NitroTPMPCRKey returns the condition key for NitroTPM PCR index i,
// "kms:RecipientAttestation:NitroTPMPCR<i>".
func NitroTPMPCRKey(i int) string { return KeyNitroTPMPCRPrefix + strconv.Itoa(i) }

// AddNitroTPMAttestation adds the condition keys of a verified NitroTPM
// attestation document (an EC2 instance's, attestation.VerifyNitroTPM) to
// ctx (allocating it when nil) and returns it:
// kms:RecipientAttestation:NitroTPMPCR<n> for every PCR 0 to
// [MaxNitroTPMPCR], as lower-case hex, and nothing else. It never adds
// kms:RecipientAttestation:ImageSha384 or PCR<n>: a NitroTPM PCR0 measures
// the instance's firmware, not an enclave image, so conditions on the
// enclave keys fail for a NitroTPM document even when the values are
// equal. Call it only with the PCRs of a document that passed
// verification, and never together with [AddAttestation].
func AddNitroTPMAttestation(ctx map[string][]string, pcrs map[int][]byte) map[string][]string {
	if ctx == nil {
		ctx = make(map[string][]string, len(pcrs))
	}
	for i, v := range pcrs {
		if i < 0 || i > MaxNitroTPMPCR {
			continue
		}
		ctx[NitroTPMPCRKey(i)] = []string{hex.EncodeToString(v)}
	}
	return ctx
}

// AddEncryptionContext adds kms:EncryptionContext:<key> for every pair of ec
// and kms:EncryptionContextKeys (the sorted keys) to ctx (allocating it when
// nil) and returns it. An empty ec adds nothing, as in AWS.
func AddEncryptionContext(ctx map[string][]string, ec map[string]string) map[string][]string {
	if ctx == nil {
		ctx = make(map[string][]string, len(ec)+1)
	}
	if len(ec) == 0 {
		return ctx
	}
	keys := make([]string, 0, len(ec))
	for k, v := range ec {
		keys = append(keys, k)
		lk := KeyEncryptionContextPrefix + k
		ctx[lk] = append(ctx[lk], v)
	}
	sort.Strings(keys)
	ctx[KeyEncryptionContextKeys] = keys
	return ctx
}

// DefaultKeyPolicy returns the key policy AWS KMS gives a key created without
// one: a single "Enable IAM User Permissions" statement allowing kms:* on the
// key to the account root principal, which in this engine matches every
// principal of accountID (AWS would further consult IAM policies; there are
// none here).
func DefaultKeyPolicy(accountID string) []byte {
	type principal struct {
		AWS string `json:"AWS"`
	}
	type stmt struct {
		Sid       string    `json:"Sid"`
		Effect    string    `json:"Effect"`
		Principal principal `json:"Principal"`
		Action    string    `json:"Action"`
		Resource  string    `json:"Resource"`
	}
	doc := struct {
		Version   string `json:"Version"`
		ID        string `json:"Id"`
		Statement []stmt `json:"Statement"`
	}{
		Version: Version2012,
		ID:      "key-default-1",
		Statement: []stmt{{
			Sid:       "Enable IAM User Permissions",
			Effect:    "Allow",
			Principal: principal{AWS: "arn:aws:iam::" + accountID + ":root"},
			Action:    "kms:*",
			Resource:  "*",
		}},
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil { // cannot happen: only strings
		panic("policy: DefaultKeyPolicy: " + err.Error())
	}
	return out
}
