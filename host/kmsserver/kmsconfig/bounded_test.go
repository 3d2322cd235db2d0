// SPDX-License-Identifier: Apache-2.0

//go:build unix

package kmsconfig

import (
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/boundedfile/boundedfiletest"
)

// TestLoadRefusesHugeFile: a mistaken --config (a 2 GiB file, here sparse
// so it costs no disk) is refused at once, naming the file and the limit,
// without reading it into memory.
func TestLoadRefusesHugeFile(t *testing.T) {
	p := boundedfiletest.Sparse(t, filepath.Join(t.TempDir(), "kms-server.yaml"), boundedfiletest.Huge)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Load(p)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Errorf("Load: %v, want an error naming %s and the 1 MiB limit", err, p)
	}
	var be *boundedfile.Error
	if !errors.As(err, &be) || be.Path != p || be.Limit != MaxFileSize {
		t.Errorf("Load: %v, want a *boundedfile.Error", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("Load allocated %d MiB for a file it should refuse unread", grew>>20)
	}
	if took > 2*time.Second {
		t.Errorf("Load took %v to refuse the file", took)
	}
}

// TestLoadRefusesFIFO: a named pipe nobody writes to is refused at once,
// not waited on forever.
func TestLoadRefusesFIFO(t *testing.T) {
	p := boundedfiletest.FIFO(t, filepath.Join(t.TempDir(), "kms-server.yaml"))
	var err error
	boundedfiletest.Within(t, 5*time.Second, "Load of a named pipe", func() { _, err = Load(p) })
	if !errors.Is(err, boundedfile.ErrNotRegular) || !strings.Contains(err.Error(), p+" is a named pipe, not a regular file") {
		t.Errorf("Load: %v, want %s is a named pipe, not a regular file", err, p)
	}
}

// TestLoadRefusesDirectory names what the path is.
func TestLoadRefusesDirectory(t *testing.T) {
	p := t.TempDir()
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p+" is a directory, not a regular file") {
		t.Errorf("Load: %v, want %s is a directory, not a regular file", err, p)
	}
}

// TestLoadCertificateRefusesFIFOAndHugeFiles: tls.cert and tls.key (and
// kms-server's --tls-cert and --tls-key, which come here too) are read with
// the same bound: a named pipe is refused at once, and a 2 GiB key file
// unread, each naming the file.
func TestLoadCertificateRefusesFIFOAndHugeFiles(t *testing.T) {
	st, err := WriteStarter(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load(st.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := f.path(f.TLS.Cert), f.path(f.TLS.Key)
	if _, err := LoadCertificate(cert, key); err != nil {
		t.Fatalf("the starter's pair: %v", err)
	}
	fifo := boundedfiletest.FIFO(t, filepath.Join(t.TempDir(), "tls-cert.pem"))
	boundedfiletest.Within(t, 5*time.Second, "LoadCertificate of a named pipe", func() { _, err = LoadCertificate(fifo, key) })
	if !errors.Is(err, ErrConfig) || !errors.Is(err, boundedfile.ErrNotRegular) || !strings.Contains(err.Error(), fifo+" is a named pipe") {
		t.Errorf("LoadCertificate(fifo): %v, want ErrConfig naming %s as a named pipe", err, fifo)
	}
	huge := boundedfiletest.Sparse(t, filepath.Join(t.TempDir(), "tls-key.pem"), boundedfiletest.Huge)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = LoadCertificate(cert, huge)
	runtime.ReadMemStats(&after)
	var be *boundedfile.Error
	if !errors.Is(err, ErrConfig) || !errors.As(err, &be) || be.Path != huge || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Errorf("LoadCertificate(huge key): %v, want ErrConfig naming %s and the 1 MiB limit", err, huge)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("LoadCertificate allocated %d MiB for a key file it should refuse unread", grew>>20)
	}
}
