// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/floodtest"
)

// TestSyncClockHeaderBound: a time route answering with 10 MiB of headers
// (Go's default bound, less room for the status line) and a valid time
// after them is refused once maxTimeHeader of them are read, the clock
// left alone, at a cost of a few MiB, not the ~160 MiB of reading them
// all. An answer whose headers come close to the bound, far more than
// host-proxy's route sends (four lines), is still read.
func TestSyncClockHeaderBound(t *testing.T) {
	const huge = 10<<20 - 64<<10
	body := `{"unix_nano":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `}`
	var set []time.Time
	cfg := func(addr string) *ClockConfig {
		return &ClockConfig{Addr: addr, MaxRTT: testMaxRTT, Logger: slog.New(slog.DiscardHandler),
			Reference: func() (time.Time, error) { return time.Now(), nil },
			Set:       func(t time.Time) error { set = append(set, t); return nil }}
	}
	c := cfg(floodtest.HeaderFlood(t, huge, body))
	var err error
	n := floodtest.Allocated(func() { _, err = SyncClock(context.Background(), c) })
	t.Logf("SyncClock against %.2f MiB of headers: %v; allocated %.1f MiB", float64(huge)/(1<<20), err, float64(n)/(1<<20))
	if err == nil || !strings.Contains(err.Error(), "boot: time route") || !strings.Contains(err.Error(), "headers exceeded") || len(set) != 0 {
		t.Errorf("SyncClock: %v, set %v; want an error for headers over the bound and the clock left alone", err, set)
	}
	if n > 8<<20 {
		t.Errorf("one fetch allocated %d MiB (want at most 8 MiB)", n>>20)
	}
	if _, err := SyncClock(context.Background(), cfg(floodtest.HeaderFlood(t, maxTimeHeader-1<<10, body))); err != nil {
		t.Errorf("headers within the bound: %v", err)
	}
}
