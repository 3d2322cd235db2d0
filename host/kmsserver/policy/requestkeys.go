// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"net/netip"
	"strconv"
	"strings"
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
)

// AddTransport adds aws:SourceIp (when source is valid), aws:SecureTransport,
// aws:CurrentTime and aws:EpochTime to ctx (allocating it when nil) and
// returns it. source must be the connection's remote address, not a value
// the client sent; now is the request time.
func AddTransport(ctx map[string][]string, source netip.Addr, secure bool, now time.Time) map[string][]string {
	if ctx == nil {
		ctx = make(map[string][]string, 4)
	}
	if source.IsValid() {
		ctx[KeySourceIP] = []string{source.Unmap().WithZone("").String()}
	}
	ctx[KeySecureTransport] = []string{strconv.FormatBool(secure)}
	now = now.UTC().Truncate(time.Second)
	ctx[KeyCurrentTime] = []string{now.Format(time.RFC3339)}
	ctx[KeyEpochTime] = []string{strconv.FormatInt(now.Unix(), 10)}
	return ctx
}

// UsesKey reports whether any condition of the policy names the condition
// key (case-insensitively), so a caller can skip gathering a costly key
// (kms:ResourceAliases) that no condition reads. A nil *Policy uses none.
func (p *Policy) UsesKey(key string) bool {
	if p == nil {
		return false
	}
	lkey := strings.ToLower(key)
	for i := range p.statements {
		for j := range p.statements[i].conditions {
			if p.statements[i].conditions[j].lkey == lkey {
				return true
			}
		}
	}
	return false
}
