// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
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

// TestSyncClockAllowNoReferenceUnsafeWarns: SyncClock, which has no
// constructor, logs one WARN through ClockConfig.Logger at each call
// with AllowNoReferenceUnsafe, once the configuration is accepted and
// before the host is asked (so also when the host does not answer),
// naming the option and what it gives away; with a Reference, or a
// configuration refused, none. Before, the option was silent (found by
// review).
func TestSyncClockAllowNoReferenceUnsafeWarns(t *testing.T) {
	ref := func() (time.Time, error) { return time.Now(), nil }
	for _, tc := range []struct {
		name   string
		ref    func() (time.Time, error)
		unsafe bool
		warns  int
	}{
		{"AllowNoReferenceUnsafe", nil, true, 1},
		{"Reference", ref, false, 0},
		{"both: refused", ref, true, 0},
		{"neither: refused", nil, false, 0},
	} {
		h := &recordHandler{}
		// Nothing listens on port 1: the sync fails after the warning.
		_, err := SyncClock(context.Background(), &ClockConfig{Addr: "tcp://127.0.0.1:1", MaxRTT: time.Second,
			Reference: tc.ref, AllowNoReferenceUnsafe: tc.unsafe, Logger: slog.New(h)})
		if err == nil {
			t.Fatalf("%s: SyncClock succeeded with nothing listening", tc.name)
		}
		var warns []slog.Record
		for _, r := range h.records {
			if r.Level == slog.LevelWarn {
				warns = append(warns, r)
			}
		}
		if len(warns) != tc.warns {
			t.Fatalf("%s: %d warnings, want %d", tc.name, len(warns), tc.warns)
		}
		for _, r := range warns {
			var option string
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "option" {
					option = a.Value.String()
				}
				return true
			})
			if option != "ClockConfig.AllowNoReferenceUnsafe" {
				t.Errorf("%s: option %q, want ClockConfig.AllowNoReferenceUnsafe", tc.name, option)
			}
			for _, w := range []string{"AllowNoReferenceUnsafe", "parent instance", "MaxStep", "no bound"} {
				if !strings.Contains(r.Message, w) {
					t.Errorf("%s: warning %q does not say %q", tc.name, r.Message, w)
				}
			}
		}
	}
}
