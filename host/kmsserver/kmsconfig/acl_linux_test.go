// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// setACL sets the access ACL {user::r, user:uid:r, group::-, mask::r,
// other::-} on p, as systemd's LoadCredential= does for a service with a
// User= of its own (uid), skipping the test without POSIX ACLs.
func setACL(t *testing.T, p string, uid uint32) {
	t.Helper()
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range [][3]uint32{{0x01, 4, 0}, {0x02, 4, uid}, {0x04, 0, 0}, {0x10, 4, 0}, {0x20, 0, 0}} {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	if err := unix.Setxattr(p, "system.posix_acl_access", b, 0); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			t.Skipf("no POSIX ACLs in the test's temporary directory (%v)", err)
		}
		t.Fatal(err)
	}
}

// TestRootKeyFileSystemdCredential: systemd's credential file for a
// service with a User= of its own is mode 0400 with the ACL entry
// user:UID:r, which stat shows as 0440. It is accepted when UID is the
// server's; an entry for another user is refused, naming the entry and the
// setfacl that removes it. Before, both were refused as "mode -r--r-----;
// chmod 600 it", which cannot be done on the read-only credentials mount
// (found by review).
func TestRootKeyFileSystemdCredential(t *testing.T) {
	st, err := WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load(st.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(st.RootKeyPath, 0o400); err != nil {
		t.Fatal(err)
	}
	self := uint32(os.Geteuid())
	setACL(t, st.RootKeyPath, self)
	if k, err := f.RootKey(); err != nil || len(k) != 32 {
		t.Fatalf("root key with the ACL entry user:%d:r (this process): %v", self, err)
	}
	other := self + 4242
	setACL(t, st.RootKeyPath, other)
	_, err = f.RootKey()
	want := st.RootKeyPath + " is accessible by group or others (mode -r--r-----, ACL entry user:" + strconv.Itoa(int(other)) + ":r--); setfacl -x user:" + strconv.Itoa(int(other))
	if !errors.Is(err, ErrFileMode) || !strings.Contains(err.Error(), want) {
		t.Fatalf("root key with the ACL entry user:%d:r: %v, want ErrFileMode with %q", other, err, want)
	}
}
