// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"fmt"
	"strings"
)

type baseOp uint8

const (
	opStringEquals baseOp = iota
	opStringNotEquals
	opStringEqualsIgnoreCase
	opStringNotEqualsIgnoreCase
	opStringLike
	opStringNotLike
	opBool
	opNull
	// The typed operators (operators.go); keep them last and grouped.
	opNumericEquals
	opNumericNotEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateNotEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opIPAddress
	opNotIPAddress
	opArnEquals
	opArnNotEquals
	opArnLike
	opArnNotLike
)

var baseOps = map[string]baseOp{
	"StringEquals":              opStringEquals,
	"StringNotEquals":           opStringNotEquals,
	"StringEqualsIgnoreCase":    opStringEqualsIgnoreCase,
	"StringNotEqualsIgnoreCase": opStringNotEqualsIgnoreCase,
	"StringLike":                opStringLike,
	"StringNotLike":             opStringNotLike,
	"Bool":                      opBool,
	"Null":                      opNull,
	"NumericEquals":             opNumericEquals,
	"NumericNotEquals":          opNumericNotEquals,
	"NumericLessThan":           opNumericLessThan,
	"NumericLessThanEquals":     opNumericLessThanEquals,
	"NumericGreaterThan":        opNumericGreaterThan,
	"NumericGreaterThanEquals":  opNumericGreaterThanEquals,
	"DateEquals":                opDateEquals,
	"DateNotEquals":             opDateNotEquals,
	"DateLessThan":              opDateLessThan,
	"DateLessThanEquals":        opDateLessThanEquals,
	"DateGreaterThan":           opDateGreaterThan,
	"DateGreaterThanEquals":     opDateGreaterThanEquals,
	"IpAddress":                 opIPAddress,
	"NotIpAddress":              opNotIPAddress,
	"ArnEquals":                 opArnEquals,
	"ArnNotEquals":              opArnNotEquals,
	"ArnLike":                   opArnLike,
	"ArnNotLike":                opArnNotLike,
}

// negated reports whether the operator is the negation of a positive match
// (AWS: such operators are true when the key is absent from the request).
func (o baseOp) negated() bool {
	switch o {
	case opStringNotEquals, opStringNotEqualsIgnoreCase, opStringNotLike,
		opNumericNotEquals, opDateNotEquals, opNotIPAddress, opArnNotEquals, opArnNotLike:
		return true
	}
	return false
}

// match is the positive comparison of one policy value with one request value.
func (o baseOp) match(policyValue, requestValue string, budget *int) bool {
	switch o {
	case opStringEquals, opStringNotEquals:
		return policyValue == requestValue
	case opStringEqualsIgnoreCase, opStringNotEqualsIgnoreCase, opBool:
		return strings.EqualFold(policyValue, requestValue)
	case opStringLike, opStringNotLike:
		return wildcardMatch(policyValue, requestValue, budget)
	}
	return false
}

type setOp uint8

const (
	setNone setOp = iota
	setAnyValue
	setAllValues
)

type condition struct {
	op       string // the operator as written, e.g. "ForAnyValue:StringEquals"
	base     baseOp
	set      setOp
	ifExists bool
	multi    bool      // the key is multi-valued (kms:EncryptionContextKeys, ...)
	key      string    // the condition key as written
	lkey     string    // lower-cased, for lookup
	values   []string  // Bool and Null values lower-cased
	operands []operand // the parsed values of a typed operator, parallel to values
}

// parseConditions parses a Condition block, keeping document order (which
// decides which failed condition a reason names).
func parseConditions(v *jval, path, version string) ([]condition, error) {
	if v.kind != jObject {
		return nil, malformed(path, "must be an object, not %s", v.kind)
	}
	var out []condition
	for i := range v.obj {
		opm := &v.obj[i]
		opath := path + "." + opm.key
		base, set, ifExists, err := parseOperator(opm.key, opath)
		if err != nil {
			return nil, err
		}
		if opm.val.kind != jObject {
			return nil, malformed(opath, "must be an object mapping condition keys to values, not %s", opm.val.kind)
		}
		if len(opm.val.obj) == 0 {
			return nil, malformed(opath, "no condition keys")
		}
		seen := make(map[string]string)
		for j := range opm.val.obj {
			km := &opm.val.obj[j]
			kpath := opath + "." + km.key
			lkey := strings.ToLower(km.key)
			if prev, dup := seen[lkey]; dup {
				return nil, malformed(kpath, "condition key %q repeats %q (condition keys are case-insensitive)", km.key, prev)
			}
			seen[lkey] = km.key
			// A literal variable in a key name (kms:EncryptionContext:${...})
			// would name a key no request has: a Deny that never applies.
			if err := checkVariables(km.key, kpath, version); err != nil {
				return nil, err
			}
			multi, err := checkConditionKey(km.key, lkey, kpath)
			if err != nil {
				return nil, err
			}
			if set == setAllValues && !multi {
				return nil, unsupported(kpath, "ForAllValues with the single-valued key %q matches requests without it (KMS: OverlyPermissiveCondition); remove ForAllValues", km.key)
			}
			values, err := conditionValues(&km.val, kpath, version, base)
			if err != nil {
				return nil, err
			}
			var operands []operand
			if base.typed() {
				operands = make([]operand, len(values))
				for i, v := range values {
					o, want, ok := parseOperand(base, v)
					if !ok {
						return nil, malformed(kpath, "%s value must be %s, not %q", rest(opm.key), want, v)
					}
					operands[i] = o
				}
			}
			out = append(out, condition{op: opm.key, base: base, set: set, ifExists: ifExists, multi: multi, key: km.key, lkey: lkey, values: values, operands: operands})
		}
	}
	return out, nil
}

func parseOperator(name, path string) (base baseOp, set setOp, ifExists bool, err error) {
	rest := name
	switch {
	case strings.HasPrefix(rest, "ForAnyValue:"):
		set, rest = setAnyValue, strings.TrimPrefix(rest, "ForAnyValue:")
	case strings.HasPrefix(rest, "ForAllValues:"):
		set, rest = setAllValues, strings.TrimPrefix(rest, "ForAllValues:")
	}
	if r, ok := strings.CutSuffix(rest, "IfExists"); ok {
		ifExists, rest = true, r
	}
	base, ok := baseOps[rest]
	if !ok {
		return 0, 0, false, unsupported(path, "condition operator %q is not supported (supported: String(Not)Equals(IgnoreCase), String(Not)Like, Numeric*, Date*, (Not)IpAddress, Arn(Not)Equals, Arn(Not)Like, Bool, Null, with optional ForAnyValue:/ForAllValues: prefix and IfExists suffix)", name)
	}
	if base == opNull && (set != setNone || ifExists) {
		return 0, 0, false, malformed(path, "Null takes neither a set prefix nor IfExists")
	}
	return base, set, ifExists, nil
}

// Condition keys, as documented by AWS KMS. Lookups are case-insensitive.
const (
	// KeyImageSha384 is PCR0 of the request's verified attestation document,
	// lower-case hex.
	KeyImageSha384 = "kms:RecipientAttestation:ImageSha384"
	// KeyPCRPrefix followed by a decimal index names that PCR of the
	// attestation document, lower-case hex (see [PCRKey]).
	KeyPCRPrefix = "kms:RecipientAttestation:PCR"
	// KeyNitroTPMPCRPrefix followed by a decimal index (0 to
	// [MaxNitroTPMPCR]) names that PCR of a NitroTPM attestation document
	// (an EC2 instance's, not an enclave's), lower-case hex (see
	// [NitroTPMPCRKey]). It is present only with a NitroTPM document, and
	// the enclave keys only with an enclave document.
	KeyNitroTPMPCRPrefix = "kms:RecipientAttestation:NitroTPMPCR"
	// KeyEncryptionContextPrefix followed by an encryption context key holds
	// that key's value (the key part is case-insensitive, as in AWS).
	KeyEncryptionContextPrefix = "kms:EncryptionContext:"
	// KeyEncryptionContextKeys is multi-valued: the encryption context keys.
	KeyEncryptionContextKeys = "kms:EncryptionContextKeys"
	// KeyCallerAccount is the caller's account ID (derived from
	// Request.Principal when Context does not set it).
	KeyCallerAccount = "kms:CallerAccount"
	// KeyViaService is the AWS service a request came through; absent for
	// direct calls.
	KeyViaService = "kms:ViaService"
	// KeyPrincipalArn is the caller's ARN (derived from Request.Principal).
	KeyPrincipalArn = "aws:PrincipalArn"
	// KeyPrincipalAccount is the caller's account ID (derived from
	// Request.Principal).
	KeyPrincipalAccount = "aws:PrincipalAccount"
	// KeyKeySpec is the KeySpec of the KMS key the request uses.
	KeyKeySpec = "kms:KeySpec"
	// KeyKeyUsage is the KeyUsage of the KMS key the request uses.
	KeyKeyUsage = "kms:KeyUsage"
	// KeySigningAlgorithm is the SigningAlgorithm of Sign and Verify.
	KeySigningAlgorithm = "kms:SigningAlgorithm"
	// KeyMessageType is the MessageType of Sign and Verify (RAW when the
	// request leaves it out).
	KeyMessageType = "kms:MessageType"
	// KeyEncryptionAlgorithm is the encryption algorithm of Encrypt,
	// Decrypt, ReEncrypt and the GenerateDataKey family (SYMMETRIC_DEFAULT
	// with symmetric keys).
	KeyEncryptionAlgorithm = "kms:EncryptionAlgorithm"
	// KeyMacAlgorithm is the MacAlgorithm of GenerateMac and VerifyMac.
	KeyMacAlgorithm = "kms:MacAlgorithm"
	// KeyKeyAgreementAlgorithm is the KeyAgreementAlgorithm of
	// DeriveSharedSecret.
	KeyKeyAgreementAlgorithm = "kms:KeyAgreementAlgorithm"
	// KeyGrantOperations is multi-valued: the Operations of a CreateGrant
	// request.
	KeyGrantOperations = "kms:GrantOperations"
	// KeyGranteePrincipal is the GranteePrincipal of a CreateGrant request.
	KeyGranteePrincipal = "kms:GranteePrincipal"
	// KeyRetiringPrincipal is the RetiringPrincipal of a CreateGrant
	// request (absent when it names none).
	KeyRetiringPrincipal = "kms:RetiringPrincipal"
	// KeyGrantIsForAWSResource is "true" when an AWS service creates the
	// grant on the caller's behalf; always "false" for kms-server.
	KeyGrantIsForAWSResource = "kms:GrantIsForAWSResource"
	// KeyGrantConstraintType is EncryptionContextEquals or
	// EncryptionContextSubset when a CreateGrant request has that
	// constraint (absent without one).
	KeyGrantConstraintType = "kms:GrantConstraintType"
)

const (
	keyAttestationPrefixLower   = "kms:recipientattestation:"
	keyPCRPrefixLower           = "kms:recipientattestation:pcr"
	keyNitroTPMPCRPrefixLower   = "kms:recipientattestation:nitrotpmpcr"
	keyImageSha384Lower         = "kms:recipientattestation:imagesha384"
	keyEncryptionContextPrefixL = "kms:encryptioncontext:"
)

// MaxPCR is the highest PCR index accepted in kms:RecipientAttestation:PCR<n>.
const MaxPCR = 31

// MaxNitroTPMPCR is the highest PCR index accepted in
// kms:RecipientAttestation:NitroTPMPCR<n>: a NitroTPM reports PCRs 0-23.
const MaxNitroTPMPCR = 23

// checkConditionKey accepts only the keys this engine knows the request
// context carries faithfully: an unknown key would simply be absent, which
// silently disables a Deny. It reports whether the key is multi-valued.
func checkConditionKey(key, lkey, path string) (multi bool, err error) {
	switch {
	case lkey == keyImageSha384Lower:
		return false, nil
	case strings.HasPrefix(lkey, keyPCRPrefixLower):
		if _, ok := parseUint(lkey[len(keyPCRPrefixLower):], MaxPCR); !ok {
			return false, unsupported(path, "condition key %q: want kms:RecipientAttestation:PCR0 to PCR%d", key, MaxPCR)
		}
		return false, nil
	case strings.HasPrefix(lkey, keyNitroTPMPCRPrefixLower):
		if _, ok := parseUint(lkey[len(keyNitroTPMPCRPrefixLower):], MaxNitroTPMPCR); !ok {
			return false, unsupported(path, "condition key %q: want kms:RecipientAttestation:NitroTPMPCR0 to NitroTPMPCR%d", key, MaxNitroTPMPCR)
		}
		return false, nil
	case strings.HasPrefix(lkey, keyAttestationPrefixLower):
		return false, unsupported(path, "condition key %q is not supported (want kms:RecipientAttestation:ImageSha384, PCR<n> or NitroTPMPCR<n>)", key)
	case strings.HasPrefix(lkey, keyEncryptionContextPrefixL):
		if len(lkey) == len(keyEncryptionContextPrefixL) {
			return false, malformed(path, "condition key %q names no encryption context key", key)
		}
		return false, nil
	case lkey == strings.ToLower(KeyEncryptionContextKeys), lkey == strings.ToLower(KeyGrantOperations):
		return true, nil
	case lkey == strings.ToLower(KeyCallerAccount), lkey == strings.ToLower(KeyViaService),
		lkey == strings.ToLower(KeyPrincipalArn), lkey == strings.ToLower(KeyPrincipalAccount),
		lkey == strings.ToLower(KeyKeySpec), lkey == strings.ToLower(KeyKeyUsage),
		lkey == strings.ToLower(KeySigningAlgorithm), lkey == strings.ToLower(KeyMessageType),
		lkey == strings.ToLower(KeyEncryptionAlgorithm), lkey == strings.ToLower(KeyMacAlgorithm),
		lkey == strings.ToLower(KeyKeyAgreementAlgorithm),
		lkey == strings.ToLower(KeySourceIP), lkey == strings.ToLower(KeySecureTransport),
		lkey == strings.ToLower(KeyCurrentTime), lkey == strings.ToLower(KeyEpochTime),
		lkey == strings.ToLower(KeyRequestAlias),
		lkey == strings.ToLower(KeyGranteePrincipal), lkey == strings.ToLower(KeyRetiringPrincipal),
		lkey == strings.ToLower(KeyGrantIsForAWSResource), lkey == strings.ToLower(KeyGrantConstraintType):
		return false, nil
	case lkey == strings.ToLower(KeyResourceAliases), lkey == strings.ToLower(KeyTagKeys):
		return true, nil
	case strings.HasPrefix(lkey, keyResourceTagPrefixLower), strings.HasPrefix(lkey, keyRequestTagPrefixLower):
		tagKey := key[strings.IndexByte(key, '/')+1:]
		if tagKey == "" {
			return false, malformed(path, "condition key %q names no tag key", key)
		}
		if strings.Contains(tagKey, "${") {
			return false, unsupported(path, "policy variables are not supported (%q)", key)
		}
		return false, nil
	}
	return false, unsupported(path, "condition key %q is not supported", key)
}

func conditionValues(v *jval, path, version string, base baseOp) ([]string, error) {
	var items []jval
	switch v.kind {
	case jArray:
		if len(v.arr) == 0 {
			return nil, malformed(path, "empty value list")
		}
		items = v.arr
	default:
		items = []jval{*v}
	}
	out := make([]string, 0, len(items))
	for i := range items {
		it := &items[i]
		switch it.kind {
		case jString, jNumber, jBool: // AWS compares numbers and booleans as their text
		default:
			return nil, malformed(path, "condition value must be a string, number or boolean, not %s", it.kind)
		}
		s := it.s
		if base == opBool || base == opNull {
			s = strings.ToLower(s)
			if s != "true" && s != "false" {
				return nil, malformed(path, "%s value must be true or false, not %q", opName(base), it.s)
			}
		}
		if err := checkVariables(s, path, version); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// rest returns the operator name without its set prefix and IfExists suffix.
func rest(op string) string {
	if _, r, ok := strings.Cut(op, ":"); ok {
		op = r
	}
	return strings.TrimSuffix(op, "IfExists")
}

func opName(o baseOp) string {
	for k, v := range baseOps {
		if v == o {
			return k
		}
	}
	return fmt.Sprintf("op(%d)", o)
}
