// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"encoding/hex"
	"encoding/json"
	"math/bits"
	"sort"
	"strconv"
	"strings"
)

// PCRKey returns the condition key for PCR index i,
// "kms:RecipientAttestation:PCR<i>".
func PCRKey(i int) string {
	if i >= 0 && i < len(pcrKeys) {
		return pcrKeys[i]
	}
	return KeyPCRPrefix + strconv.Itoa(i)
}

// pcrKeys and nitroTPMPCRKeys are PCRKey(i) and NitroTPMPCRKey(i) for every
// index a document may present, formatted once instead of per request.
// Read-only.
var (
	pcrKeys         = keyTable(KeyPCRPrefix, MaxPCR)
	nitroTPMPCRKeys = keyTable(KeyNitroTPMPCRPrefix, MaxNitroTPMPCR)
)

func keyTable(prefix string, max int) []string {
	t := make([]string, max+1)
	for i := range t {
		t[i] = prefix + strconv.Itoa(i)
	}
	return t
}

// lowerKeys maps the condition keys this package names, in the case it
// names them, to their lower-case form, so that evaluation lower-cases the
// keys every request presents without allocating (see lowerKey). Read-only.
var lowerKeys = func() map[string]string {
	named := []string{KeyImageSha384, KeyEncryptionContextKeys, KeyCallerAccount, KeyViaService,
		KeyPrincipalArn, KeyPrincipalAccount, KeyKeySpec, KeyKeyUsage, KeySigningAlgorithm,
		KeyMessageType, KeyEncryptionAlgorithm, KeyMacAlgorithm, KeyKeyAgreementAlgorithm,
		KeyGrantOperations, KeyGranteePrincipal, KeyRetiringPrincipal, KeyGrantIsForAWSResource,
		KeyGrantConstraintType, KeySourceIP, KeySecureTransport, KeyCurrentTime, KeyEpochTime,
		KeyRequestAlias, KeyResourceAliases, KeyTagKeys}
	named = append(append(named, pcrKeys...), nitroTPMPCRKeys...)
	m := make(map[string]string, len(named))
	for _, k := range named {
		m[k] = strings.ToLower(k)
	}
	return m
}()

// lowerKey is strings.ToLower(k), from lowerKeys when k is one of them.
func lowerKey(k string) string {
	if l, ok := lowerKeys[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

// addPCRs sets keys[i] in ctx to the lower-case hex of pcrs[i] for every
// i in keys' range whose bit is set in sel, and also alias0 (unless it is
// "") to that of pcrs[0]. The values share one string and one backing
// array (two allocations instead of two per PCR); every value slice has a
// capacity of one, so an append to one never writes into another. When
// sel selects fewer indexes than pcrs holds (a request path's one or two),
// it looks them up instead of ranging over the map.
func addPCRs(ctx map[string][]string, pcrs map[int][]byte, keys []string, sel uint32, alias0 string) {
	want := sel // the indexes to encode
	if alias0 != "" {
		want |= 1
	}
	want &= uint32(uint64(1)<<len(keys) - 1) // keys' range (at most 32)
	var idx [MaxPCR + 1]int                  // no table is longer than pcrKeys
	n, size := 0, 0
	if bits.OnesCount32(want) <= len(pcrs) {
		for rest := want; rest != 0; rest &= rest - 1 {
			i := bits.TrailingZeros32(rest)
			if v, ok := pcrs[i]; ok {
				idx[n] = i
				n++
				size += hex.EncodedLen(len(v))
			}
		}
	} else {
		for i, v := range pcrs {
			if i >= 0 && i < len(keys) && want&(1<<i) != 0 {
				idx[n] = i
				n++
				size += hex.EncodedLen(len(v))
			}
		}
	}
	if n == 0 {
		return
	}
	var sb strings.Builder
	sb.Grow(size)
	var tmp [128]byte
	type span struct{ from, to int }
	var spans [MaxPCR + 1]span
	for j, i := range idx[:n] {
		from := sb.Len()
		for v := pcrs[i]; len(v) > 0; {
			c := min(len(v), len(tmp)/2)
			sb.Write(tmp[:hex.Encode(tmp[:], v[:c])])
			v = v[c:]
		}
		spans[j] = span{from, sb.Len()}
	}
	all := sb.String()
	vals := make([]string, n)
	for j, i := range idx[:n] {
		vals[j] = all[spans[j].from:spans[j].to]
		v := vals[j : j+1 : j+1]
		if sel&(1<<i) != 0 {
			ctx[keys[i]] = v
		}
		if i == 0 && alias0 != "" {
			ctx[alias0] = v
		}
	}
}

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
	addPCRs(ctx, pcrs, pcrKeys, allPCRs, KeyImageSha384)
	return ctx
}

// allPCRs selects every index of a key table (addPCRs).
const allPCRs = ^uint32(0)

// AddAttestationFor is [AddAttestation] for a request that only the
// policies ps decide: of the document's keys it adds those a condition of
// ps reads, and the PCR<n> of the lowest index the document has, which
// marks that an enclave document was presented (reasons say so). Each
// condition of ps then reads the same values as after [AddAttestation], so
// ps decide exactly as they would there, with the same reasons; the
// hex-encoding of the PCRs no condition reads is skipped. Evaluate no
// other policy on the result. A nil *Policy reads no key.
func AddAttestationFor(ctx map[string][]string, pcrs map[int][]byte, ps ...*Policy) map[string][]string {
	var r attReads
	for _, p := range ps {
		if p != nil {
			r.pcrs |= p.att.pcrs
			r.imageSha384 = r.imageSha384 || p.att.imageSha384
		}
	}
	if ctx == nil {
		ctx = make(map[string][]string, 2+bits.OnesCount32(r.pcrs))
	}
	alias := ""
	if r.imageSha384 {
		alias = KeyImageSha384
	}
	addPCRs(ctx, pcrs, pcrKeys, r.pcrs|lowestPCR(pcrs, len(pcrKeys)), alias)
	return ctx
}

// lowestPCR is the bit of the lowest index of pcrs below n (0 when none).
// It looks the indexes up from 0 (a document's lowest is nearly always 0)
// while that costs fewer lookups than ranging over the map.
func lowestPCR(pcrs map[int][]byte, n int) uint32 {
	for i := 0; i < n && i < 2*len(pcrs); i++ {
		if _, ok := pcrs[i]; ok {
			return 1 << i
		}
	}
	if n <= 2*len(pcrs) {
		return 0 // every index below n was looked up
	}
	low := n
	for i := range pcrs {
		if i >= 0 && i < low {
			low = i
		}
	}
	if low == n {
		return 0
	}
	return 1 << low
}

// attReads is the set of attestation condition keys the conditions of a
// policy read, by exact lower-cased name (parse sets it).
type attReads struct {
	pcrs        uint32 // bit i: kms:RecipientAttestation:PCR<i>
	nitroTPM    uint32 // bit i: kms:RecipientAttestation:NitroTPMPCR<i>
	imageSha384 bool
}

// note adds the condition key lkey (lower-cased) to r when it is an
// attestation key.
func (r *attReads) note(lkey string) {
	if lkey == keyImageSha384Lower {
		r.imageSha384 = true
	}
	if i, ok := lowerPCRIndex[lkey]; ok {
		r.pcrs |= 1 << i
	}
	if i, ok := lowerNitroTPMPCRIndex[lkey]; ok {
		r.nitroTPM |= 1 << i
	}
}

// lowerPCRIndex and lowerNitroTPMPCRIndex map the lower-cased keys of
// pcrKeys and nitroTPMPCRKeys to their index. Read-only.
var (
	lowerPCRIndex         = indexOf(pcrKeys)
	lowerNitroTPMPCRIndex = indexOf(nitroTPMPCRKeys)
)

func indexOf(keys []string) map[string]int {
	m := make(map[string]int, len(keys))
	for i, k := range keys {
		m[strings.ToLower(k)] = i
	}
	return m
}

// NitroTPMPCRKey returns the condition key for NitroTPM PCR index i,
// "kms:RecipientAttestation:NitroTPMPCR<i>".
func NitroTPMPCRKey(i int) string {
	if i >= 0 && i < len(nitroTPMPCRKeys) {
		return nitroTPMPCRKeys[i]
	}
	return KeyNitroTPMPCRPrefix + strconv.Itoa(i)
}

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
	addPCRs(ctx, pcrs, nitroTPMPCRKeys, allPCRs, "")
	return ctx
}

// AddNitroTPMAttestationFor is [AddNitroTPMAttestation] for a request that
// only the policies ps decide, as [AddAttestationFor] is for an enclave
// document: the NitroTPMPCR<n> keys a condition of ps reads, and that of
// the lowest index the document has. Evaluate no other policy on the
// result.
func AddNitroTPMAttestationFor(ctx map[string][]string, pcrs map[int][]byte, ps ...*Policy) map[string][]string {
	var sel uint32
	for _, p := range ps {
		if p != nil {
			sel |= p.att.nitroTPM
		}
	}
	if ctx == nil {
		ctx = make(map[string][]string, 1+bits.OnesCount32(sel))
	}
	addPCRs(ctx, pcrs, nitroTPMPCRKeys, sel|lowestPCR(pcrs, len(nitroTPMPCRKeys)), "")
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
// key to the account root principal. It names the caller only through its
// account, so an Allow by it is [Decision.ViaAccount]: as in AWS, it
// delegates to the caller's identity policy, which must allow the action
// too; principals of other accounts get nothing from it.
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
