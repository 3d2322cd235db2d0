// SPDX-License-Identifier: Apache-2.0

package main

import (
	"net"
	"slices"
	"testing"
)

// TestAppEnv: init's values replace any the application would inherit
// (a stale or planted ENCLAVE_AGENT_KMS_ENDPOINT must not send its keys
// elsewhere), and an inherited value of an endpoint init does not run is
// dropped.
func TestAppEnv(t *testing.T) {
	base := []string{"PATH=/bin", "ENCLAVE_AGENT_KMS_ENDPOINT=http://10.0.0.9:80", "ENCLAVE_AGENT_LISTEN=tcp://10.0.0.9:81", "ENCLAVE_AGENT_FORWARDED_PIPES=1:2,1:3", "X=a=b"}
	kms := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40001}
	att := &net.UnixAddr{Name: "/run/att.sock", Net: "unix"}
	got := appEnv(base, kms, att)
	want := []string{"PATH=/bin", "X=a=b", "ENCLAVE_AGENT_KMS_ENDPOINT=http://127.0.0.1:40001", "ENCLAVE_AGENT_LISTEN=unix:///run/att.sock"}
	if !slices.Equal(got, want) {
		t.Errorf("appEnv = %q, want %q", got, want)
	}
	got = appEnv(base, &net.TCPAddr{IP: net.IPv6loopback, Port: 40002}, nil)
	want = []string{"PATH=/bin", "X=a=b", "ENCLAVE_AGENT_KMS_ENDPOINT=http://[::1]:40002"}
	if !slices.Equal(got, want) {
		t.Errorf("appEnv (KMS only) = %q, want %q", got, want)
	}
	if got, want := appEnv(base, nil, nil), []string{"PATH=/bin", "X=a=b"}; !slices.Equal(got, want) {
		t.Errorf("appEnv without endpoints = %q, want %q", got, want)
	}
}
