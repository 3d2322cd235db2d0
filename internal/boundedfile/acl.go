// SPDX-License-Identifier: Apache-2.0

package boundedfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// POSIX ACL tags and the xattr's version, as Linux stores an access ACL in
// the system.posix_acl_access extended attribute (include/uapi/linux/
// posix_acl_xattr.h): a 4-byte little-endian header holding the version, 2,
// then entries of {tag u16, perm u16, id u32}, little-endian.
const (
	aclVersion  = 2
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

// aclEntry is one entry of a POSIX ACL.
type aclEntry struct {
	tag, perm uint16
	id        uint32
}

// String is the entry as getfacl writes it: user:1001:r--, group::r--.
func (e aclEntry) String() string {
	var kind, id string
	switch e.tag {
	case aclUserObj:
		kind = "user"
	case aclUser:
		kind, id = "user", fmt.Sprint(e.id)
	case aclGroupObj:
		kind = "group"
	case aclGroup:
		kind, id = "group", fmt.Sprint(e.id)
	case aclMask:
		kind = "mask"
	case aclOther:
		kind = "other"
	default:
		kind, id = fmt.Sprintf("tag 0x%x", e.tag), fmt.Sprint(e.id)
	}
	rwx := []byte("rwx")
	for i := range rwx {
		if e.perm&(4>>i) == 0 {
			rwx[i] = '-'
		}
	}
	return kind + ":" + id + ":" + string(rwx)
}

// parseACL parses the value of a system.posix_acl_access attribute.
func parseACL(b []byte) ([]aclEntry, error) {
	if len(b) < 4 || binary.LittleEndian.Uint32(b) != aclVersion || (len(b)-4)%8 != 0 {
		return nil, errors.New("boundedfile: malformed POSIX ACL")
	}
	var es []aclEntry
	for b = b[4:]; len(b) > 0; b = b[8:] {
		es = append(es, aclEntry{tag: binary.LittleEndian.Uint16(b), perm: binary.LittleEndian.Uint16(b[2:]), id: binary.LittleEndian.Uint32(b[4:])})
	}
	return es, nil
}

// aclGrant returns the entry of acl that gives someone other than the
// file's owner and the user self any access, and whether there is one.
// A named user's and a group's access is the entry's permissions masked
// by the mask entry (all of them when there is none); the other entry is
// not masked. A malformed entry (an unknown tag) counts as a grant.
func aclGrant(acl []aclEntry, self uint32) (aclEntry, bool) {
	mask := uint16(7)
	for _, e := range acl {
		if e.tag == aclMask {
			mask = e.perm
		}
	}
	for _, e := range acl {
		switch e.tag {
		case aclUserObj, aclMask:
		case aclUser:
			if e.id != self && e.perm&mask != 0 {
				return e, true
			}
		case aclGroupObj, aclGroup:
			if e.perm&mask != 0 {
				return e, true
			}
		case aclOther:
			if e.perm != 0 {
				return e, true
			}
		default:
			return e, true
		}
	}
	return aclEntry{}, false
}

// aclFileInfo is the information [ReadCheck] passes to its check for a
// file with a POSIX access ACL: the file's, and its ACL, read from the
// opened file.
type aclFileInfo struct {
	fs.FileInfo
	acl   []aclEntry
	owner uint32 // the file's owner
	err   error  // reading or parsing the ACL failed
}

// aclComplete reports whether acl has the entries every access ACL the
// kernel keeps has: one each for the owner, the owning group and others,
// and one mask when there are named entries.
func aclComplete(acl []aclEntry) bool {
	n := map[uint16]int{}
	for _, e := range acl {
		n[e.tag]++
	}
	named := n[aclUser]+n[aclGroup] > 0
	return n[aclUserObj] == 1 && n[aclGroupObj] == 1 && n[aclOther] == 1 && n[aclMask] <= 1 && (!named || n[aclMask] == 1)
}

// Access tells who besides the file's owner can access the file fi
// describes: Open is false when no one can, and Perm is its permission
// bits for a message. ACLEntry, when not empty, is the POSIX ACL entry
// that gives access, as getfacl writes it (user:1001:r--), or for a file
// whose ACL gives this process access but whose owner is another user,
// the owner's entry and uid.
type Access struct {
	Perm     fs.FileMode
	Open     bool
	ACLEntry string
	// Owner, when not zero, is the owner of a file open to its owner
	// through the ACL path: a user other than this process and root.
	Owner uint32
	// Self is this process's effective user, for the fix when Owner is set.
	Self uint32
}

// Fix is what would close the file to others: "chmod 600 PATH", for an
// ACL entry naming a user or group, removing it with setfacl first, and
// for a file owned by another user, giving it to this process's user.
func (a Access) Fix(path string) string {
	if a.Owner != 0 {
		return fmt.Sprintf("chown %d %s && chmod 600 %s (or have root own it)", a.Self, path, path)
	}
	kind, rest, _ := strings.Cut(a.ACLEntry, ":")
	id, _, _ := strings.Cut(rest, ":")
	if (kind == "user" || kind == "group") && id != "" {
		return fmt.Sprintf("setfacl -x %s:%s %s (or chmod 600 %s)", kind, id, path, path)
	}
	return "chmod 600 " + path
}

// String is "mode -r--r-----", with ", ACL entry user:1001:r--" when an
// ACL entry gives the access.
func (a Access) String() string {
	if a.ACLEntry != "" {
		return fmt.Sprintf("mode %v, ACL entry %s", a.Perm, a.ACLEntry)
	}
	return fmt.Sprintf("mode %v", a.Perm)
}

// WhoCanAccess tells whether anyone besides the file's owner can access
// the file fi describes (a secret's file must be mode 0600 or narrower).
//
// When the group bits are the mask of a POSIX access ACL, as they are for
// a file systemd's LoadCredential= hands a service with a User= of its own
// (root-owned, mode 0400, and an ACL entry user:UID:r for the service), and
// fi is what [ReadCheck] passes its check (the ACL is read from the opened
// file, on Linux), the ACL decides instead of the bits: the file is open
// if the ACL gives any access to a group, to others, or to a named user
// other than this process's effective user, or if the file's owner is
// neither this process's user nor root (the owner could read it). An ACL
// that cannot be read, or lacks an entry every access ACL has, is open. On
// Windows, whose files have no such bits, nothing is open.
func WhoCanAccess(fi fs.FileInfo) Access {
	return whoCanAccess(fi, uint32(os.Geteuid()))
}

func whoCanAccess(fi fs.FileInfo, self uint32) Access {
	a := Access{Perm: fi.Mode().Perm()}
	if runtime.GOOS == "windows" || a.Perm&0o077 == 0 {
		return a
	}
	a.Open = true
	ai, ok := fi.(*aclFileInfo)
	if !ok || a.Perm&0o007 != 0 {
		return a
	}
	if ai.err != nil {
		a.ACLEntry = "unreadable (" + ai.err.Error() + ")"
		return a
	}
	if !aclComplete(ai.acl) {
		a.ACLEntry = "incomplete (no single owner, owning group, other and mask entries)"
		return a
	}
	if e, grants := aclGrant(ai.acl, self); grants {
		a.ACLEntry = e.String()
		return a
	}
	if ai.owner != self && ai.owner != 0 {
		for _, e := range ai.acl {
			if e.tag == aclUserObj {
				a.ACLEntry = fmt.Sprintf("%s of uid %d", e, ai.owner)
			}
		}
		a.Owner, a.Self = ai.owner, self
		return a
	}
	a.Open = false
	return a
}
