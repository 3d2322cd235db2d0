// SPDX-License-Identifier: Apache-2.0

package kmsconfig

import (
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// AuditFile is the audit log file (audit_log), appended to. [AuditFile.Reopen]
// opens the path again, for log rotation: kms-server calls it on SIGHUP,
// after logrotate (or an operator) has moved the old file away.
type AuditFile struct {
	path string
	mu   sync.RWMutex
	f    *os.File
}

// OpenAuditFile opens (creating it, mode 0600) the audit log at path for
// appending. It refuses a symbolic link (O_NOFOLLOW: whoever can write
// the directory could point the log elsewhere) and anything but a
// regular file (a FIFO would block the server, a device is no log).
func OpenAuditFile(path string) (*AuditFile, error) {
	f, err := openAudit(path)
	if err != nil {
		return nil, err
	}
	return &AuditFile{path: path, f: f}, nil
}

func openAudit(path string) (*os.File, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a reader; it is
	// refused below.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		if isSymlink(path) {
			return nil, fmt.Errorf("audit_log %s is a symbolic link; name the file itself", path)
		}
		return nil, fmt.Errorf("audit_log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit_log: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("audit_log %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	return f, nil
}

func isSymlink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

// Write appends p to the file open now.
func (a *AuditFile) Write(p []byte) (int, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.f.Write(p)
}

// Reopen opens the path again and writes there from now on; the old file
// is closed. On an error the old file stays in use.
func (a *AuditFile) Reopen() error {
	f, err := openAudit(a.path)
	if err != nil {
		return err
	}
	a.mu.Lock()
	old := a.f
	a.f = f
	a.mu.Unlock()
	return old.Close()
}

// Close closes the file.
func (a *AuditFile) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Close()
}
