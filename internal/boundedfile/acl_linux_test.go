// SPDX-License-Identifier: Apache-2.0

package boundedfile

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// aclXattr encodes entries as a system.posix_acl_access value.
func aclXattr(es ...aclEntry) []byte {
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range es {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// aclFile writes a 0400 file in dir and sets the access ACL es on it,
// skipping the test when dir's file system has no POSIX ACLs.
func aclFile(t *testing.T, dir, name string, es ...aclEntry) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("secret"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(p, "system.posix_acl_access", aclXattr(es...), 0); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP) {
			t.Skipf("the test's temporary directory has no POSIX ACLs (%v): nothing to test", err)
		}
		t.Fatalf("setxattr %s: %v", p, err)
	}
	return p
}

// TestACLWhoCanAccess: the file systemd's LoadCredential= hands a service
// with a User= of its own is root-owned, mode 0400, with the ACL entry
// user:UID:r for the service, so that stat shows 0440 (the mask in the
// group bits). It is accepted when UID is this process's; an ACL that
// gives a read to another user, a group, the owning group or others is
// refused, naming the entry. Before, every such file was refused as mode
// -r--r----- with a "chmod 600" hint that cannot be followed on the
// read-only credentials mount (found by review).
func TestACLWhoCanAccess(t *testing.T) {
	dir := t.TempDir()
	self := uint32(os.Geteuid())
	other := self + 4242
	const r = 4
	owner := aclEntry{tag: aclUserObj, perm: r}
	noGroup := aclEntry{tag: aclGroupObj}
	mask := aclEntry{tag: aclMask, perm: r}
	noOther := aclEntry{tag: aclOther}
	for _, tc := range []struct {
		name  string
		acl   []aclEntry
		open  bool
		entry string
	}{
		{"systemd credential", []aclEntry{owner, {tag: aclUser, perm: r, id: self}, noGroup, mask, noOther}, false, ""},
		{"another user", []aclEntry{owner, {tag: aclUser, perm: r, id: other}, noGroup, mask, noOther}, true, "user:" + itoa(other) + ":r--"},
		{"self and another user", []aclEntry{owner, {tag: aclUser, perm: r, id: self}, {tag: aclUser, perm: r, id: other + 1}, noGroup, mask, noOther},
			true, "user:" + itoa(other+1) + ":r--"},
		{"a group", []aclEntry{owner, {tag: aclUser, perm: r, id: self}, noGroup, {tag: aclGroup, perm: r, id: 4243}, mask, noOther}, true, "group:4243:r--"},
		{"the owning group", []aclEntry{owner, {tag: aclUser, perm: r, id: self}, {tag: aclGroupObj, perm: r}, mask, noOther}, true, "group::r--"},
		{"others", []aclEntry{owner, {tag: aclUser, perm: r, id: self}, noGroup, mask, {tag: aclOther, perm: r}}, true, ""},
		{"another user masked out", []aclEntry{owner, {tag: aclUser, perm: r, id: self}, {tag: aclUser, perm: 2, id: other}, noGroup, mask, noOther}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := aclFile(t, dir, strings.ReplaceAll(tc.name, " ", "-"), tc.acl...)
			var got Access
			if _, err := ReadCheck(p, 100, func(fi fs.FileInfo) error { got = WhoCanAccess(fi); return nil }); err != nil {
				t.Fatal(err)
			}
			if got.Perm&0o070 == 0 {
				t.Fatalf("mode %v: the ACL's mask is not in the group bits", got.Perm)
			}
			if got.Open != tc.open || got.ACLEntry != tc.entry {
				t.Fatalf("%+v (%s), want open %v, entry %q", got, got, tc.open, tc.entry)
			}
			// The file's information from a lookup of the path, without
			// the ACL, is refused by its bits, as before.
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if perm, open := OthersCanAccess(fi); !open {
				t.Fatalf("os.Stat information (mode %v) accepted", perm)
			}
		})
	}
	// The bits alone still decide without an ACL.
	p := filepath.Join(dir, "plain")
	if err := os.WriteFile(p, nil, 0o440); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o440); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCheck(p, 100, func(fi fs.FileInfo) error {
		if a := WhoCanAccess(fi); !a.Open || a.ACLEntry != "" || a.String() != "mode -r--r-----" {
			t.Errorf("0440 without an ACL: %+v", a)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
