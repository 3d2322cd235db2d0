// SPDX-License-Identifier: Apache-2.0

//go:build linux

package enclave_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"unsafe"

	"github.com/fxamacker/cbor/v2"
	"github.com/hf/nsm"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/enclave/emulator"
)

// ioctlMessage mirrors the NSM driver's request/response iovec pair.
type ioctlMessage struct {
	Request  syscall.Iovec
	Response syscall.Iovec
}

// fakeNSM answers the driver's ioctl with the emulator behind it, encoding
// requests and responses as the device does (serde's CBOR: a bare string
// for unit variants, a one-entry map otherwise, {"Error": code} on failure).
type fakeNSM struct {
	emu     *emulator.Emulator
	ioctls  int
	lastReq []byte
}

func (f *fakeNSM) Fd() uintptr  { return 42 }
func (f *fakeNSM) Close() error { return nil }

func (f *fakeNSM) syscall(trap, fd, cmd, arg uintptr) (uintptr, uintptr, syscall.Errno) {
	f.ioctls++
	if trap != syscall.SYS_IOCTL || fd != 42 {
		return 0, 0, syscall.EINVAL
	}
	msg := *(**ioctlMessage)(unsafe.Pointer(&arg))
	req := unsafe.Slice(msg.Request.Base, msg.Request.Len)
	f.lastReq = append([]byte{}, req...)
	resp, err := cbor.Marshal(f.answer(req))
	if err != nil {
		return 0, 0, syscall.EIO
	}
	out := unsafe.Slice(msg.Response.Base, msg.Response.Len)
	if len(resp) > len(out) {
		return 0, 0, syscall.EMSGSIZE
	}
	copy(out, resp)
	msg.Response.SetLen(len(resp))
	return 0, 0, 0
}

func nsmCode(err error) any {
	var ne *enclave.NSMError
	if errors.As(err, &ne) {
		return map[string]string{"Error": ne.Code}
	}
	return map[string]string{"Error": "InternalError"}
}

func (f *fakeNSM) answer(req []byte) any {
	if len(req) > enclave.MaxRequestSize {
		return map[string]string{"Error": enclave.CodeInputTooLarge}
	}
	var name string
	if cbor.Unmarshal(req, &name) == nil {
		switch name {
		case "DescribeNSM":
			d, err := f.emu.DescribeNSM()
			if err != nil {
				return nsmCode(err)
			}
			locked := make([]uint16, len(d.LockedPCRs))
			for i, l := range d.LockedPCRs {
				locked[i] = uint16(l)
			}
			return map[string]any{"DescribeNSM": map[string]any{"version_major": d.VersionMajor, "version_minor": d.VersionMinor,
				"version_patch": d.VersionPatch, "module_id": d.ModuleID, "max_pcrs": uint16(d.MaxPCRs), "locked_pcrs": locked, "digest": d.Digest}}
		case "GetRandom":
			r, err := f.emu.GetRandom()
			if err != nil {
				return nsmCode(err)
			}
			return map[string]any{"GetRandom": map[string]any{"random": r}}
		}
		return map[string]string{"Error": enclave.CodeInvalidOperation}
	}
	var m map[string]struct {
		Index     *uint16 `cbor:"index"`
		Range     *uint16 `cbor:"range"`
		Data      []byte  `cbor:"data"`
		UserData  []byte  `cbor:"user_data"`
		Nonce     []byte  `cbor:"nonce"`
		PublicKey []byte  `cbor:"public_key"`
	}
	if err := cbor.Unmarshal(req, &m); err != nil || len(m) != 1 {
		return map[string]string{"Error": enclave.CodeInvalidOperation}
	}
	for op, a := range m {
		idx := func() int {
			if a.Index == nil {
				return -1
			}
			return int(*a.Index)
		}
		switch op {
		case "Attestation":
			doc, err := f.emu.Attestation(a.Nonce, a.UserData, a.PublicKey)
			if err != nil {
				return nsmCode(err)
			}
			return map[string]any{"Attestation": map[string]any{"document": doc}}
		case "DescribePCR":
			v, locked, err := f.emu.DescribePCR(idx())
			if err != nil {
				return nsmCode(err)
			}
			return map[string]any{"DescribePCR": map[string]any{"lock": locked, "data": v}}
		case "ExtendPCR":
			v, err := f.emu.ExtendPCR(idx(), a.Data)
			if err != nil {
				return nsmCode(err)
			}
			return map[string]any{"ExtendPCR": map[string]any{"data": v}}
		case "LockPCR":
			if err := f.emu.LockPCR(idx()); err != nil {
				return nsmCode(err)
			}
			return "LockPCR"
		case "LockPCRs":
			if a.Range == nil {
				return map[string]string{"Error": enclave.CodeInvalidArgument}
			}
			if err := f.emu.LockPCRs(int(*a.Range)); err != nil {
				return nsmCode(err)
			}
			return "LockPCRs"
		}
	}
	return map[string]string{"Error": enclave.CodeInvalidOperation}
}

// TestDeviceOverFakeIoctl drives Device through hf/nsm's real request
// encoding and response decoding, with the ioctl answered by the emulator:
// the device path's mapping of requests, answers and error codes.
func TestDeviceOverFakeIoctl(t *testing.T) {
	emu, err := emulator.New(&emulator.Config{Debug: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeNSM{emu: emu}
	d, err := enclave.OpenDeviceWith(nsm.Options{
		Open:    func() (nsm.FileDescriptor, error) { return fake, nil },
		Syscall: fake.syscall,
	})
	if err != nil {
		t.Fatal(err)
	}
	var _ enclave.NSM = d

	desc, err := d.DescribeNSM()
	if err != nil || desc.ModuleID != emu.ModuleID() || desc.MaxPCRs != 32 || desc.Digest != "SHA384" || len(desc.LockedPCRs) != 16 {
		t.Fatalf("DescribeNSM: %+v, %v", desc, err)
	}
	v, err := d.ExtendPCR(16, []byte("abc"))
	if err != nil || !bytes.Equal(v, enclave.ExtendPCRValue(make([]byte, 48), []byte("abc"))) {
		t.Fatalf("ExtendPCR: %x, %v", v, err)
	}
	if got, locked, err := d.DescribePCR(16); err != nil || !bytes.Equal(got, v) || locked {
		t.Fatalf("DescribePCR: %x %v %v", got, locked, err)
	}
	if err := d.LockPCR(16); err != nil {
		t.Fatalf("LockPCR: %v", err)
	}
	// Error codes from the device map to the sentinels.
	_, err = d.ExtendPCR(16, []byte("x"))
	var ne *enclave.NSMError
	if !errors.As(err, &ne) || ne.Code != "ReadOnlyIndex" || ne.Op != "ExtendPCR" || !errors.Is(err, enclave.ErrReadOnlyIndex) {
		t.Fatalf("ExtendPCR on a locked PCR: %v", err)
	}
	if err := d.LockPCR(0); !errors.Is(err, enclave.ErrReadOnlyIndex) {
		t.Fatalf("LockPCR(0): %v", err)
	}
	if err := d.LockPCRs(33); !errors.Is(err, enclave.ErrInvalidIndex) {
		t.Fatalf("LockPCRs(33): %v", err)
	}
	if err := d.LockPCRs(20); err != nil {
		t.Fatalf("LockPCRs(20): %v", err)
	}
	if _, _, err := d.DescribePCR(40); !errors.Is(err, enclave.ErrInvalidIndex) {
		t.Fatalf("DescribePCR(40): %v", err)
	}
	// Attestation: absent fields go as null, present ones as byte strings.
	doc, err := d.Attestation([]byte("n"), nil, []byte{})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := attestation.Verify(doc, attestation.Options{Roots: []*x509Cert{emu.Root()}, AllowDebugUnsafe: true, Nonce: []byte("n")})
	if err != nil {
		t.Fatalf("document through the device path: %v", err)
	}
	if parsed.UserData != nil || parsed.PublicKey == nil || len(parsed.PublicKey) != 0 || len(parsed.PCRs) != 20 {
		t.Fatalf("document fields: user_data %v public_key %v, %d PCRs", parsed.UserData, parsed.PublicKey, len(parsed.PCRs))
	}
	r, err := d.GetRandom()
	if err != nil || len(r) != 256 {
		t.Fatalf("GetRandom: %d bytes, %v", len(r), err)
	}
	buf := make([]byte, 600)
	if n, err := d.Read(buf); err != nil || n != 600 || bytes.Equal(buf[:256], buf[256:512]) {
		t.Fatalf("Read: %d, %v", n, err)
	}
	// Limits are enforced before the ioctl.
	before := fake.ioctls
	if _, err := d.Attestation(make([]byte, 1025), nil, nil); !errors.Is(err, enclave.ErrInvalidArgument) {
		t.Fatalf("1025-byte nonce: %v", err)
	}
	if _, err := d.ExtendPCR(17, make([]byte, 4096)); !errors.Is(err, enclave.ErrInputTooLarge) {
		t.Fatalf("4 KiB extension: %v", err)
	}
	if fake.ioctls != before {
		t.Fatal("a request over the limits reached the device")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetRandom(); !errors.Is(err, enclave.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := d.Read(buf); !errors.Is(err, enclave.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

// TestOpenDeviceErrors: a missing device matches ErrNoDevice; another open
// failure does not pretend the device is missing.
func TestOpenDeviceErrors(t *testing.T) {
	_, err := enclave.OpenDeviceWith(nsm.Options{Open: func() (nsm.FileDescriptor, error) { return nil, fmt.Errorf("open: %w", os.ErrNotExist) }})
	if !errors.Is(err, enclave.ErrNoDevice) {
		t.Fatalf("missing: %v", err)
	}
	_, err = enclave.OpenDeviceWith(nsm.Options{Open: func() (nsm.FileDescriptor, error) { return nil, os.ErrPermission }})
	if err == nil || errors.Is(err, enclave.ErrNoDevice) || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("permission denied: %v", err)
	}
}
