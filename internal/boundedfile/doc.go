// SPDX-License-Identifier: Apache-2.0

// Package boundedfile reads a whole file from a path an operator gave,
// with a bound.
//
// The commands read configuration files, PEM files, key store records and
// small data files whole. With [os.ReadFile], a mistaken path
// ("--config /dev/zero", a named pipe nobody writes to, a multi-gigabyte
// log) reads until memory runs out or blocks forever. [Read] fails at once
// instead.
//
// # Checks
//
// [Read] makes these checks, in order:
//
//  1. The path names a regular file (after following symbolic links): a
//     directory, named pipe, socket or device is refused with an [*Error]
//     that says which, matching [ErrNotRegular]. A named pipe is refused
//     without waiting for a writer.
//  2. Its size, as the file system reports it, is at most the limit; a
//     larger file is refused without being read, with an [*Error] matching
//     [ErrTooLarge].
//  3. Reading stops after limit+1 bytes, so a file that grows while it is
//     read, or one that reports a size of 0 (as /proc files do), still
//     cannot exceed the limit.
//
// [ReadCheck] adds a caller's check of the opened file's information
// (its mode or owner, say) between the open and the read.
//
// # Secrets' files
//
// [WhoCanAccess] (and [OthersCanAccess]) tell whether anyone besides a
// file's owner can access it, for the files that hold secrets (kms-server's
// configuration, root key and TLS key, host-proxy's credentials file). On
// Linux, given what [ReadCheck] passes its check, a POSIX access ACL whose
// mask shows in the group bits decides instead of the bits: systemd's
// LoadCredential= gives a service with a User= of its own a root-owned
// 0400 file with the ACL entry user:UID:r, which stat shows as 0440, and
// that file is private to the service. The ACL is read from the opened
// file (fgetxattr), parsed from the system.posix_acl_access attribute,
// and refused if any entry gives a group, others or a user other than the
// process's effective user access, if it lacks an entry every access ACL
// has, or if the file's owner is neither that user nor root.
//
// A file that cannot be opened gives the [*fs.PathError] that
// [os.ReadFile] would (Op "open"), so errors.Is(err, fs.ErrNotExist) still
// holds for a missing file and messages keep their shape.
package boundedfile
