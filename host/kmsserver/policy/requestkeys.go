// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Global and alias condition keys the server fills from the request itself.
const (
	// KeySourceIP is the address of the connection the request came on
	// (never a forwarding header), as IpAddress/NotIpAddress compare it.
	KeySourceIP = "aws:SourceIp"
	// KeySecureTransport is "true" when the request came over TLS, "false"
	// otherwise (use with Bool).
	KeySecureTransport = "aws:SecureTransport"
	// KeyCurrentTime is the request time, ISO 8601 in UTC (use with Date*).
	KeyCurrentTime = "aws:CurrentTime"
	// KeyEpochTime is the request time in epoch seconds (Date* or Numeric*).
	KeyEpochTime = "aws:EpochTime"
	// KeyRequestAlias is the alias the request named its key by
	// ("alias/name"); absent when it named the key by ID or ARN.
	KeyRequestAlias = "kms:RequestAlias"
	// KeyResourceAliases is multi-valued: the aliases ("alias/name") of the
	// key the request uses.
	KeyResourceAliases = "kms:ResourceAliases"
	// KeyResourceTagPrefix followed by a tag key holds the value of that
	// tag of the key the request uses (operations on an existing key); a
	// key without the tag lacks it.
	KeyResourceTagPrefix = "aws:ResourceTag/"
	// KeyRequestTagPrefix followed by a tag key holds the value the
	// request gives that tag (CreateKey and TagResource).
	KeyRequestTagPrefix = "aws:RequestTag/"
	// KeyTagKeys is multi-valued: the tag keys of the request (CreateKey,
	// TagResource, UntagResource), for use with ForAllValues and
	// ForAnyValue.
	KeyTagKeys = "aws:TagKeys"
)

const (
	keyResourceTagPrefixLower = "aws:resourcetag/"
	keyRequestTagPrefixLower  = "aws:requesttag/"
)

// AddResourceTags adds aws:ResourceTag/<key> for every tag of the key the
// request uses to ctx (allocating it when nil) and returns it. tags maps
// tag keys to values; an empty value is a present tag.
func AddResourceTags(ctx map[string][]string, tags map[string]string) map[string][]string {
	return addTags(ctx, KeyResourceTagPrefix, tags)
}

// AddRequestTags adds aws:RequestTag/<key> for every tag of the request,
// and aws:TagKeys (the sorted tag keys) unless tags is empty, to ctx
// (allocating it when nil) and returns it. Use it for CreateKey and
// TagResource; [AddTagKeys] for UntagResource.
func AddRequestTags(ctx map[string][]string, tags map[string]string) map[string][]string {
	ctx = addTags(ctx, KeyRequestTagPrefix, tags)
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	return AddTagKeys(ctx, keys)
}

// AddTagKeys adds aws:TagKeys, the tag keys of the request (sorted, in a
// copy), to ctx (allocating it when nil) unless keys is empty, and
// returns it.
func AddTagKeys(ctx map[string][]string, keys []string) map[string][]string {
	if ctx == nil {
		ctx = make(map[string][]string, 1)
	}
	if len(keys) > 0 {
		ctx[KeyTagKeys] = slices.Sorted(slices.Values(keys))
	}
	return ctx
}

func addTags(ctx map[string][]string, prefix string, tags map[string]string) map[string][]string {
	if ctx == nil {
		ctx = make(map[string][]string, len(tags)+1)
	}
	for k, v := range tags {
		// Tag keys that differ only in case merge into one condition key
		// (IAM compares the key part case-insensitively); evaluation then
		// treats the two values fail-closed both ways.
		ctx[prefix+k] = append(ctx[prefix+k], v)
	}
	return ctx
}

// UsesResourceTags reports whether any condition of the policy reads an
// aws:ResourceTag/<key>, so a caller can skip gathering the key's tags
// otherwise. A nil *Policy reads none.
func (p *Policy) UsesResourceTags() bool { return p != nil && p.resourceTags }

// AddTransport adds aws:SourceIp (when source is valid), aws:SecureTransport,
// aws:CurrentTime and aws:EpochTime to ctx (allocating it when nil) and
// returns it. source must be the connection's remote address, not a value
// the client sent; now is the request time.
func AddTransport(ctx map[string][]string, source netip.Addr, secure bool, now time.Time) map[string][]string {
	return addTransport(ctx, source, secure, now, 1<<len(transportKeys)-1)
}

// addTransport adds to ctx (allocating it when nil) the transport keys
// whose bits are set in reads, and returns it.
func addTransport(ctx map[string][]string, source netip.Addr, secure bool, now time.Time, reads uint8) map[string][]string {
	if ctx == nil {
		ctx = make(map[string][]string, 4)
	}
	if reads&(1<<transportSourceIP) != 0 && source.IsValid() {
		ctx[KeySourceIP] = []string{source.Unmap().WithZone("").String()}
	}
	if reads&(1<<transportSecureTransport) != 0 {
		ctx[KeySecureTransport] = []string{strconv.FormatBool(secure)}
	}
	now = now.UTC().Truncate(time.Second)
	if reads&(1<<transportCurrentTime) != 0 {
		ctx[KeyCurrentTime] = []string{now.Format(time.RFC3339)}
	}
	if reads&(1<<transportEpochTime) != 0 {
		ctx[KeyEpochTime] = []string{strconv.FormatInt(now.Unix(), 10)}
	}
	return ctx
}

// transportKeys are the keys AddTransport adds, lower-cased, in the order
// of the bits of Policy.transport.
var transportKeys = [...]string{
	transportSourceIP:        "aws:sourceip",
	transportSecureTransport: "aws:securetransport",
	transportCurrentTime:     "aws:currenttime",
	transportEpochTime:       "aws:epochtime",
}

const (
	transportSourceIP = iota
	transportSecureTransport
	transportCurrentTime
	transportEpochTime
)

// transportBit is the bit of the transport key lkey (lower-cased), 0 for
// any other key.
func transportBit(lkey string) uint8 {
	for i, k := range transportKeys {
		if lkey == k {
			return 1 << i
		}
	}
	return 0
}

// AddTransportFor is [AddTransport] for a request that only the policies
// ps decide: it adds the keys of AddTransport that a condition of ps reads,
// and formats no others. Each condition of ps then reads the same values
// as after AddTransport (a condition reads only its own key, and reasons
// name only the keys of conditions), so ps decide exactly as they would
// there, with the same reasons. Evaluate no other policy on the result. A
// nil *Policy reads no key.
func AddTransportFor(ctx map[string][]string, source netip.Addr, secure bool, now time.Time, ps ...*Policy) map[string][]string {
	var reads uint8
	for _, p := range ps {
		if p != nil {
			reads |= p.transport
		}
	}
	return addTransport(ctx, source, secure, now, reads)
}

// UsesKey reports whether any condition of the policy names the condition
// key (case-insensitively), so a caller can skip gathering a costly key
// (kms:ResourceAliases) that no condition reads. A nil *Policy uses none.
func (p *Policy) UsesKey(key string) bool {
	if p == nil {
		return false
	}
	lkey := lowerKey(key) // no allocation for the keys this package names
	for i := range p.statements {
		for j := range p.statements[i].conditions {
			if p.statements[i].conditions[j].lkey == lkey {
				return true
			}
		}
	}
	return false
}
