// SPDX-License-Identifier: Apache-2.0

package kmsserver

// The request's own condition keys: aws:SourceIp, aws:SecureTransport,
// aws:CurrentTime, aws:EpochTime (from the connection and the request
// time), kms:RequestAlias (the alias the request named a key by),
// kms:ResourceAliases (the key's aliases, read only when a policy uses it),
// aws:ResourceTag/<key> (the key's tags, likewise) and aws:RequestTag/<key>
// and aws:TagKeys (the tags of CreateKey, TagResource and UntagResource).

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
// c for key id (empty for account-level requests) to ctx. With policies
// ps, which alone may decide on ctx, it adds of the transport and time
// keys only those ps read (policy.AddTransportFor); without, all.
func addRequestConditions(c *call, id string, ctx map[string][]string, ps ...*policy.Policy) map[string][]string {
	if len(ps) > 0 {
		ctx = policy.AddTransportFor(ctx, c.source, c.secure, c.now, ps...)
	} else {
		ctx = policy.AddTransport(ctx, c.source, c.secure, c.now)
	}
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
// whose records pass their integrity check and are not older than the
// latest this replica has seen of their alias (aliasrollback.go: an old
// record put back must not bring an alias back to a key it has left),
// when a policy that decides the request reads it: listing aliases costs
// a store read. An older record is left out without being counted as a
// rollback: a concurrent UpdateAlias may have overtaken the listing (a
// lookup of the alias by name reports a replay).
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
		if a.KeyID != k.ID {
			continue
		}
		v, err := s.openAlias(a)
		if err != nil {
			continue
		}
		if v.refusedBy(s.aliasMarks.get(a.Name)) {
			continue
		}
		names = append(names, a.Name)
	}
	if len(names) > 0 {
		ctx[policy.KeyResourceAliases] = names
	}
	return nil
}

// addResourceTags adds aws:ResourceTag/<key> for every tag of k when a
// policy that decides the request reads one. The tags are bound to the
// key material (binding), so a store writer cannot add or remove one; a
// record wrapped before tags were bound cannot vouch for its tags, and the
// request is denied (fail closed) until the key's next TagResource,
// UntagResource or PutKeyPolicy binds them.
func (s *Server) addResourceTags(c *call, k *keystore.Key, action string, ctx map[string][]string, ps ...*policy.Policy) error {
	used := false
	for _, p := range ps {
		used = used || p.UsesResourceTags()
	}
	if !used {
		return nil
	}
	m, err := s.material(k)
	if err != nil {
		return err
	}
	if !m.tagsBound {
		reason := "a policy reads aws:ResourceTag, and the key's tags were stored before kms-server bound tags to the key material, so they cannot be vouched for (TagResource, UntagResource or PutKeyPolicy on the key binds them)"
		c.ev.PolicyReason = reason
		return apiErr(CodeAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because %s", c.principal, action, s.keyARN(k.ID), reason)
	}
	addKeyTags(k, ctx)
	return nil
}

// addKeyTags adds aws:ResourceTag/<key> for every tag of k to ctx.
func addKeyTags(k *keystore.Key, ctx map[string][]string) {
	if len(k.Tags) == 0 {
		return
	}
	tags := make(map[string]string, len(k.Tags))
	for _, t := range k.Tags {
		tags[t.Key] = t.Value
	}
	policy.AddResourceTags(ctx, tags)
}

// requestTagConditions adds aws:RequestTag/<key> and aws:TagKeys for the
// tags of a CreateKey or TagResource request to cond (allocating it when
// nil) and returns it.
func requestTagConditions(cond map[string][]string, tags []tag) map[string][]string {
	if len(tags) == 0 {
		return cond
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.TagKey] = t.TagValue
	}
	return policy.AddRequestTags(cond, m)
}
