// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/enclavekit/enclavekit/enclave/emulator"
)

// recordHandler keeps every record logged through it.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// warnings returns the WARN records' messages and their "option" attribute.
func (h *recordHandler) warnings() (msgs, options []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.Level != slog.LevelWarn {
			continue
		}
		msgs = append(msgs, r.Message)
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "option" {
				options = append(options, a.Value.String())
			}
			return true
		})
	}
	return msgs, options
}

// TestEndpointAllowPublicKeyWarns: NewEndpoint with AllowPublicKey logs
// one WARN through the config's Logger, naming the option and what it
// gives away (documents binding this enclave's PCRs to a caller's key,
// so KMS data keys to the parent); without it, none. Before, the option
// was silent (found by review).
func TestEndpointAllowPublicKeyWarns(t *testing.T) {
	emu, err := emulator.New(&emulator.Config{PCRs: map[int][]byte{0: image("app")}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, allow := range []bool{false, true} {
		h := &recordHandler{}
		if _, err := NewEndpoint(&EndpointConfig{NSM: emu, Kind: "emulator", AllowPublicKey: allow, Logger: slog.New(h)}); err != nil {
			t.Fatal(err)
		}
		msgs, options := h.warnings()
		if !allow {
			if len(msgs) != 0 {
				t.Errorf("without AllowPublicKey: warnings %q", msgs)
			}
			continue
		}
		if len(msgs) != 1 || len(options) != 1 || options[0] != "EndpointConfig.AllowPublicKey" {
			t.Fatalf("AllowPublicKey: warnings %q, options %q; want one naming EndpointConfig.AllowPublicKey", msgs, options)
		}
		for _, w := range []string{"AllowPublicKey", "parent instance", "public key", "PCR", "KMS"} {
			if !strings.Contains(msgs[0], w) {
				t.Errorf("warning %q does not say %q", msgs[0], w)
			}
		}
	}
}
