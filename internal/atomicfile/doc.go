// SPDX-License-Identifier: Apache-2.0

// Package atomicfile writes a whole file so that, after a crash or a power
// loss at any point, its path holds either its previous content or the
// new content complete: never a mix, and never an empty file under the
// new name.
//
// # Steps
//
// [Write] takes these steps, in order:
//
//  1. It creates a temporary file in the target's directory (so the
//     rename below stays within one file system), with mode perm.
//  2. It writes the data and fsyncs the file: the data is on disk before
//     any name points to it.
//  3. It renames the temporary file over the target.
//  4. It fsyncs the directory ([SyncDir]): the rename itself is on disk.
//
// On failure the temporary file is removed and the target is untouched
// (or, when only step 4 failed, already holds the new content, which may
// not survive a power loss).
package atomicfile
