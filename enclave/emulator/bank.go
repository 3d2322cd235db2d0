// SPDX-License-Identifier: Apache-2.0

package emulator

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/internal/atomicfile"
	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/flock"
)

// PCR bank file names in the state directory (see [Config.StateDir]).
const (
	PCRBankFile     = "pcrs.json"
	pcrBankLockFile = "pcrs.lock"
)

// bankFile is the on-disk PCR bank: what the device keeps for the
// lifetime of one enclave, shared by every process of that enclave.
type bankFile struct {
	// Boot identifies the boot measurements (PCR0-PCR15) the bank was
	// started with: SHA-384 over them, hex.
	Boot string `json:"boot"`
	// ModuleID is the emulated enclave's module ID, kept for its lifetime.
	ModuleID string   `json:"module_id"`
	PCRs     []string `json:"pcrs"`
	Locked   []bool   `json:"locked"`
}

// bootID fingerprints the boot values of PCR0-PCR15.
func bootID(pcrs *[enclave.MaxPCRs][]byte) string {
	h := sha512.New384()
	for i := range enclave.BootLockedPCRs {
		h.Write(pcrs[i])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// withBank runs fn on the PCR bank with e.mu held. With a state directory
// the bank is shared with the other processes using that directory: it is
// reloaded under an exclusive file lock before fn and saved after it when
// mutate is set and fn succeeded, so a PCR extended by one command is seen
// by the next, as on the device.
func (e *Emulator) withBank(mutate bool, fn func() error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return enclave.ErrClosed
	}
	if e.stateDir == "" {
		return fn()
	}
	unlock, err := flock.Lock(filepath.Join(e.stateDir, pcrBankLockFile))
	if err != nil {
		return fmt.Errorf("emulator: locking the PCR bank: %w", err)
	}
	defer unlock()
	if err := e.loadBankLocked(); err != nil {
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	if mutate {
		return e.saveBankLocked()
	}
	return nil
}

// maxBankFile bounds the PCR bank file: 32 PCRs in hex, their lock bits
// and the boot digest are a few KiB of JSON.
const maxBankFile = boundedfile.MiB

// loadBankLocked replaces the in-memory bank with the saved one when it was
// booted with the same measurements; otherwise the in-memory bank (this
// process's boot) stays and will be saved: the emulated enclave rebooted.
func (e *Emulator) loadBankLocked() error {
	b, err := boundedfile.Read(filepath.Join(e.stateDir, PCRBankFile), maxBankFile)
	if os.IsNotExist(err) {
		return e.saveBankLocked()
	}
	if err != nil {
		return fmt.Errorf("emulator: PCR bank: %w", err)
	}
	var f bankFile
	if err := json.Unmarshal(b, &f); err != nil || len(f.PCRs) != enclave.MaxPCRs || len(f.Locked) != enclave.MaxPCRs {
		return fmt.Errorf("emulator: PCR bank %s is corrupt; remove it to start afresh", filepath.Join(e.stateDir, PCRBankFile))
	}
	if f.Boot != e.boot {
		if !e.joined {
			e.joined = true
			e.log.Warn("NSM emulator: the state directory's PCR bank was booted with other measurements; starting a new bank (emulated reboot)",
				"file", filepath.Join(e.stateDir, PCRBankFile))
			return e.saveBankLocked()
		}
		return fmt.Errorf("emulator: another process rebooted the emulated enclave in %s with other measurements (restart this process)", e.stateDir)
	}
	var pcrs [enclave.MaxPCRs][]byte
	for i, s := range f.PCRs {
		v, err := hex.DecodeString(s)
		if err != nil || len(v) != enclave.PCRSize {
			return fmt.Errorf("emulator: PCR bank %s is corrupt; remove it to start afresh", filepath.Join(e.stateDir, PCRBankFile))
		}
		pcrs[i] = v
	}
	e.pcrs = pcrs
	copy(e.locked[:], f.Locked)
	if f.ModuleID != "" {
		e.moduleID = f.ModuleID
	}
	e.joined = true // from now on this process follows the shared bank
	return nil
}

func (e *Emulator) saveBankLocked() error {
	f := bankFile{Boot: e.boot, ModuleID: e.moduleID, PCRs: make([]string, enclave.MaxPCRs), Locked: e.locked[:]}
	for i, v := range e.pcrs {
		f.PCRs[i] = hex.EncodeToString(v)
	}
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return fmt.Errorf("emulator: PCR bank: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(e.stateDir, PCRBankFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("emulator: PCR bank: %w", err)
	}
	return nil
}
