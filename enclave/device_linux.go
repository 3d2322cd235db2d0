// SPDX-License-Identifier: Apache-2.0

//go:build linux

package enclave

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/hf/nsm"
	"github.com/hf/nsm/request"
	"github.com/hf/nsm/response"
)

// DevicePath is where the NSM driver exposes the device.
const DevicePath = "/dev/nsm"

// Device is the real NSM behind /dev/nsm.
type Device struct {
	mu   sync.RWMutex // guards sess against Close
	sess *nsm.Session
}

var _ NSM = (*Device)(nil)

// OpenDevice opens /dev/nsm. Outside a Nitro Enclave it fails with a
// *[NoDeviceError] matching [ErrNoDevice].
func OpenDevice() (*Device, error) {
	return openDevice(nsm.Options{
		Open:    func() (nsm.FileDescriptor, error) { return os.Open(DevicePath) },
		Syscall: nsm.DefaultOptions.Syscall,
	})
}

// openDevice opens a session with the given options (tests substitute the
// ioctl).
func openDevice(opts nsm.Options) (*Device, error) {
	sess, err := nsm.OpenSession(opts)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &NoDeviceError{Path: DevicePath, Err: err}
		}
		return nil, fmt.Errorf("enclave: open %s: %w", DevicePath, err)
	}
	return &Device{sess: sess}, nil
}

func (d *Device) send(op string, req request.Request) (*response.Response, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.sess == nil {
		return nil, ErrClosed
	}
	res, err := d.sess.Send(req)
	if err != nil {
		return nil, fmt.Errorf("enclave: NSM %s: %w", op, err)
	}
	if res.Error != "" {
		return nil, &NSMError{Op: op, Code: string(res.Error)}
	}
	return &res, nil
}

func invalidResponse(op string) error { return &NSMError{Op: op, Code: CodeInvalidResponse} }

// Attestation implements [NSM].
func (d *Device) Attestation(nonce, userData, publicKey []byte) ([]byte, error) {
	if err := CheckAttestationRequest(nonce, userData, publicKey); err != nil {
		return nil, err
	}
	res, err := d.send("Attestation", &request.Attestation{Nonce: nonce, UserData: userData, PublicKey: publicKey})
	if err != nil {
		return nil, err
	}
	if res.Attestation == nil || len(res.Attestation.Document) == 0 {
		return nil, invalidResponse("Attestation")
	}
	return res.Attestation.Document, nil
}

func checkIndex(op string, index int) error {
	if index < 0 || index > 0xFFFF {
		return &NSMError{Op: op, Code: CodeInvalidIndex}
	}
	return nil
}

// DescribePCR implements [NSM].
func (d *Device) DescribePCR(index int) ([]byte, bool, error) {
	if err := checkIndex("DescribePCR", index); err != nil {
		return nil, false, err
	}
	res, err := d.send("DescribePCR", &request.DescribePCR{Index: uint16(index)})
	if err != nil {
		return nil, false, err
	}
	if res.DescribePCR == nil {
		return nil, false, invalidResponse("DescribePCR")
	}
	return res.DescribePCR.Data, res.DescribePCR.Lock, nil
}

// ExtendPCR implements [NSM].
func (d *Device) ExtendPCR(index int, data []byte) ([]byte, error) {
	if err := CheckExtendRequest(index, data); err != nil {
		return nil, err
	}
	res, err := d.send("ExtendPCR", &request.ExtendPCR{Index: uint16(index), Data: data})
	if err != nil {
		return nil, err
	}
	if res.ExtendPCR == nil {
		return nil, invalidResponse("ExtendPCR")
	}
	return res.ExtendPCR.Data, nil
}

// LockPCR implements [NSM].
func (d *Device) LockPCR(index int) error {
	if err := checkIndex("LockPCR", index); err != nil {
		return err
	}
	res, err := d.send("LockPCR", &request.LockPCR{Index: uint16(index)})
	if err != nil {
		return err
	}
	if res.LockPCR == nil {
		return invalidResponse("LockPCR")
	}
	return nil
}

// LockPCRs implements [NSM].
func (d *Device) LockPCRs(n int) error {
	if err := checkIndex("LockPCRs", n); err != nil {
		return err
	}
	res, err := d.send("LockPCRs", &request.LockPCRs{Range: uint16(n)})
	if err != nil {
		return err
	}
	if res.LockPCRs == nil {
		return invalidResponse("LockPCRs")
	}
	return nil
}

// DescribeNSM implements [NSM].
func (d *Device) DescribeNSM() (*Description, error) {
	res, err := d.send("DescribeNSM", &request.DescribeNSM{})
	if err != nil {
		return nil, err
	}
	r := res.DescribeNSM
	if r == nil {
		return nil, invalidResponse("DescribeNSM")
	}
	desc := &Description{
		VersionMajor: r.VersionMajor, VersionMinor: r.VersionMinor, VersionPatch: r.VersionPatch,
		ModuleID: r.ModuleID, MaxPCRs: int(r.MaxPCRs), Digest: string(r.Digest),
	}
	for _, i := range r.LockedPCRs {
		desc.LockedPCRs = append(desc.LockedPCRs, int(i))
	}
	slices.Sort(desc.LockedPCRs)
	return desc, nil
}

// GetRandom implements [NSM].
func (d *Device) GetRandom() ([]byte, error) {
	res, err := d.send("GetRandom", &request.GetRandom{})
	if err != nil {
		return nil, err
	}
	if res.GetRandom == nil || len(res.GetRandom.Random) == 0 {
		return nil, invalidResponse("GetRandom")
	}
	return res.GetRandom.Random, nil
}

// Read fills p with entropy from the device.
func (d *Device) Read(p []byte) (int, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.sess == nil {
		return 0, ErrClosed
	}
	n, err := d.sess.Read(p)
	if err != nil {
		return n, fmt.Errorf("enclave: NSM entropy: %w", err)
	}
	return n, nil
}

// Close closes the device; later calls fail with [ErrClosed].
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess == nil {
		return nil
	}
	err := d.sess.Close()
	d.sess = nil
	return err
}
