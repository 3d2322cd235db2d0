// SPDX-License-Identifier: Apache-2.0

package boundedfile

import (
	"encoding/binary"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// FuzzParseACL: parseACL takes any bytes without panicking, refuses what
// is not version 2 with whole 8-byte entries, and aclGrant then decides
// every parsed ACL, an entry of unknown tag counting as a grant.
func FuzzParseACL(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 1, 0, 4, 0, 0, 0, 0, 0, 2, 0, 4, 0, 0xe8, 3, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 4, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 0, 0x40, 0, 7, 0, 1, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := parseACL(b)
		valid := len(b) >= 4 && binary.LittleEndian.Uint32(b) == aclVersion && (len(b)-4)%8 == 0
		if (err == nil) != valid || (err == nil && len(es) != (len(b)-4)/8) {
			t.Fatalf("parseACL(%x): %d entries, %v", b, len(es), err)
		}
		for _, e := range es {
			known := map[uint16]bool{aclUserObj: true, aclUser: true, aclGroupObj: true, aclGroup: true, aclMask: true, aclOther: true}[e.tag]
			if _, grants := aclGrant([]aclEntry{e}, 1000); !known && !grants {
				t.Fatalf("entry %v of unknown tag not counted as a grant", e)
			}
		}
	})
}

// TestACLOwner: the ACL path accepts a file only when its owner is this
// process's user or root: a file owned by a third user with an ACL entry
// for this process is readable by that user, and was accepted (found by
// review; the bits alone never let a process other than root read a file
// of someone else's that is closed to group and others).
func TestACLOwner(t *testing.T) {
	const self, r = 1000, 4
	acl := []aclEntry{{tag: aclUserObj, perm: r}, {tag: aclUser, perm: r, id: self}, {tag: aclGroupObj}, {tag: aclMask, perm: r}, {tag: aclOther}}
	for _, tc := range []struct {
		owner uint32
		open  bool
	}{{self, false}, {0, false}, {4242, true}} {
		a := whoCanAccess(&aclFileInfo{FileInfo: fakeInfo{0o440}, acl: acl, owner: tc.owner}, self)
		if a.Open != tc.open {
			t.Errorf("owner %d: %+v, want open %v", tc.owner, a, tc.open)
		}
		if tc.open && (!strings.Contains(a.ACLEntry, "4242") || !strings.Contains(a.Fix("/run/x"), "chown 1000 /run/x")) {
			t.Errorf("owner %d: entry %q, fix %q: neither names the owner and the fix", tc.owner, a.ACLEntry, a.Fix("/run/x"))
		}
	}
}

// TestACLIncomplete: an ACL without the entries every access ACL has
// (the owner's, the owning group's, others' and, with named entries, the
// mask) is not one the kernel keeps: it counts as giving access.
func TestACLIncomplete(t *testing.T) {
	const self, r = 1000, 4
	for name, acl := range map[string][]aclEntry{
		"empty":      nil,
		"owner only": {{tag: aclUserObj, perm: r}},
		"no mask":    {{tag: aclUserObj, perm: r}, {tag: aclUser, perm: r, id: self}, {tag: aclGroupObj}, {tag: aclOther}},
		"no other":   {{tag: aclUserObj, perm: r}, {tag: aclUser, perm: r, id: self}, {tag: aclGroupObj}, {tag: aclMask, perm: r}},
		"two owners": {{tag: aclUserObj, perm: r}, {tag: aclUserObj, perm: r}, {tag: aclUser, perm: r, id: self}, {tag: aclGroupObj}, {tag: aclMask, perm: r}, {tag: aclOther}},
	} {
		if a := whoCanAccess(&aclFileInfo{FileInfo: fakeInfo{0o440}, acl: acl, owner: self}, self); !a.Open {
			t.Errorf("%s: %+v accepted", name, a)
		}
	}
}

// fakeInfo is a file's information with mode perm.
type fakeInfo struct{ perm fs.FileMode }

func (f fakeInfo) Name() string       { return "f" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return f.perm }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return false }
func (f fakeInfo) Sys() any           { return nil }
