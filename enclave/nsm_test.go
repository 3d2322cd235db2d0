// SPDX-License-Identifier: Apache-2.0

package enclave

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestExtendPCRValue(t *testing.T) {
	zero := make([]byte, PCRSize)
	// SHA-384 of 48 zero bytes followed by "abc", computed independently.
	h := sha512.New384()
	h.Write(append(append([]byte{}, zero...), "abc"...))
	want := h.Sum(nil)
	if got := ExtendPCRValue(zero, []byte("abc")); !bytes.Equal(got, want) {
		t.Fatalf("ExtendPCRValue = %x, want %x", got, want)
	}
	// The device extends with the data, not with its digest.
	d := sha512.Sum384([]byte("abc"))
	if bytes.Equal(ExtendPCRValue(zero, []byte("abc")), ExtendPCRValue(zero, d[:])) {
		t.Fatal("extension with data and with its digest must differ")
	}
	// Known answer from `(head -c 48 /dev/zero; printf abc) | openssl dgst -sha384`.
	const abc = "b1c16eb7634112b7c9d5ebd27e62a2d4528bbfcfd68b62d3afd9ecf98e0f413a84314acce78317fb69fd895155343e09"
	if got := hex.EncodeToString(ExtendPCRValue(zero, []byte("abc"))); got != abc {
		t.Fatalf("ExtendPCRValue(zero, abc) = %s, want %s", got, abc)
	}
}

func TestCheckAttestationRequest(t *testing.T) {
	max := bytes.Repeat([]byte{0x80}, MaxAttestationField)
	if err := CheckAttestationRequest(max, max, max); err != nil {
		t.Fatalf("three %d-byte fields (as on real documents): %v", MaxAttestationField, err)
	}
	for _, field := range []string{"nonce", "user_data", "public_key"} {
		big := make([]byte, MaxAttestationField+1)
		var err error
		switch field {
		case "nonce":
			err = CheckAttestationRequest(big, nil, nil)
		case "user_data":
			err = CheckAttestationRequest(nil, big, nil)
		default:
			err = CheckAttestationRequest(nil, nil, big)
		}
		var le *LimitError
		if !errors.As(err, &le) || le.Field != field || le.Size != MaxAttestationField+1 || le.Max != MaxAttestationField {
			t.Errorf("%s over the limit: err = %v, want *LimitError for it", field, err)
		}
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s over the limit: err = %v, want ErrInvalidArgument", field, err)
		}
	}
}

func TestCheckExtendRequest(t *testing.T) {
	if err := CheckExtendRequest(16, make([]byte, 4000)); err != nil {
		t.Fatalf("4000 bytes: %v", err)
	}
	err := CheckExtendRequest(16, make([]byte, MaxRequestSize))
	var le *LimitError
	if !errors.As(err, &le) || le.Field != "request" || le.Size <= MaxRequestSize || !errors.Is(err, ErrInputTooLarge) {
		t.Fatalf("4 KiB of data: err = %v, want a request LimitError matching ErrInputTooLarge", err)
	}
	if err := CheckExtendRequest(-1, nil); !errors.Is(err, ErrInvalidIndex) {
		t.Fatalf("index -1: err = %v, want ErrInvalidIndex", err)
	}
}

func TestNSMErrorIs(t *testing.T) {
	for code, sentinel := range codeSentinels {
		err := error(&NSMError{Op: "ExtendPCR", Code: code})
		if !errors.Is(err, sentinel) {
			t.Errorf("code %s does not match its sentinel", code)
		}
		if code != CodeInternalError && errors.Is(err, ErrInternal) {
			t.Errorf("code %s matches ErrInternal", code)
		}
	}
	if err := error(&NSMError{Op: "X", Code: "SomethingNew"}); !errors.Is(err, ErrInternal) {
		t.Error("unknown code should match ErrInternal")
	}
}

func TestOpenDeviceWithoutDevice(t *testing.T) {
	d, err := OpenDevice()
	if err == nil {
		d.Close()
		t.Skip("a real NSM device is present")
	}
	if !errors.Is(err, ErrNoDevice) {
		t.Fatalf("OpenDevice: %v, want ErrNoDevice", err)
	}
	if !strings.Contains(err.Error(), "use --nsm emulator") || !strings.Contains(err.Error(), "/dev/nsm") {
		t.Fatalf("message lacks the hint: %v", err)
	}
}
