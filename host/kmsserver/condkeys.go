// SPDX-License-Identifier: Apache-2.0

package kmsserver

// The request's own condition keys: aws:SourceIp, aws:SecureTransport,
// aws:CurrentTime, aws:EpochTime (from the connection and the request
// time), kms:RequestAlias (the alias the request named a key by) and
// kms:ResourceAliases (the key's aliases, read only when a policy uses it).

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

// remoteAddr is the address of the connection r came on. Headers
// (X-Forwarded-For, Forwarded) are never read: the client writes them. A
// unix-socket peer has no address, and aws:SourceIp is then absent.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// addRequestConditions adds the transport, time and request-alias keys of
// c for key id (empty for account-level requests) to ctx.
func addRequestConditions(c *call, id string, ctx map[string][]string) map[string][]string {
	ctx = policy.AddTransport(ctx, c.source, c.secure, c.now)
	if a := c.requestAlias[id]; id != "" && a != "" {
		ctx[policy.KeyRequestAlias] = []string{a}
	}
	return ctx
}

// noteRequestAlias records that the request named key id by alias name.
func (c *call) noteRequestAlias(id, name string) {
	if c.requestAlias == nil {
		c.requestAlias = make(map[string]string, 1)
	}
	c.requestAlias[id] = name
}

// addResourceAliases adds kms:ResourceAliases, the names of k's aliases
// whose records pass their integrity check, when a policy that decides the
// request reads it: listing aliases costs a store read.
func (s *Server) addResourceAliases(c *call, k *keystore.Key, ctx map[string][]string, ps ...*policy.Policy) error {
	used := false
	for _, p := range ps {
		used = used || p.UsesKey(policy.KeyResourceAliases)
	}
	if !used {
		return nil
	}
	all, err := s.store.ListAliases(c.ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, a := range all {
		if a.KeyID == k.ID && s.root.AliasValid(a.Name, a.KeyID, a.MAC) {
			names = append(names, a.Name)
		}
	}
	if len(names) > 0 {
		ctx[policy.KeyResourceAliases] = names
	}
	return nil
}
