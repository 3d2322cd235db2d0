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
// A file that cannot be opened gives the [*fs.PathError] that
// [os.ReadFile] would (Op "open"), so errors.Is(err, fs.ErrNotExist) still
// holds for a missing file and messages keep their shape.
package boundedfile
