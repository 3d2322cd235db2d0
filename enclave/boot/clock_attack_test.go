// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// TestSyncClockParentPower pins what the parent can still do to the clock
// of `enclave-agent init` (a Reference, the NSM's time, is set): replay a
// time answer it recorded earlier, or name one years away, and it is
// refused with a *ClockStepError, the clock left alone; name a time just
// inside MaxStep of the NSM's and it is taken. The parent moves the clock
// by at most MaxStep (--max-clock-step, 5 minutes by default), once, at
// boot: a certificate or document that expired more than MaxStep ago
// stays expired.
func TestSyncClockParentPower(t *testing.T) {
	nsm := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		enclave time.Time
		host    time.Time
		stepped bool
	}{
		{"answer recorded 10 minutes ago, unset clock", time.Unix(0, 0), nsm.Add(-10 * time.Minute), false},
		{"answer recorded 10 minutes ago, set clock", nsm, nsm.Add(-10 * time.Minute), false},
		{"a day back, into an expired certificate's validity", nsm, nsm.AddDate(0, 0, -1), false},
		{"a year ahead, past a rotation date", time.Unix(0, 0), nsm.AddDate(1, 0, 0), false},
		{"just inside the bound, back", time.Unix(0, 0), nsm.Add(-DefaultMaxClockStep + 5*time.Second), true},
		{"just inside the bound, ahead", nsm, nsm.Add(DefaultMaxClockStep - 5*time.Second), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := timeRoute(t, func() string { return fmt.Sprintf(`{"unix_nano":%d}`, tc.host.UnixNano()) }, nil, 0)
			var set []time.Time
			_, err := SyncClock(context.Background(), &ClockConfig{Addr: addr, MaxRTT: testMaxRTT,
				Clock:     (&manualClock{now: tc.enclave}).Now,
				Reference: func() (time.Time, error) { return nsm, nil },
				Set:       func(t time.Time) error { set = append(set, t); return nil }, Logger: slog.New(slog.DiscardHandler)})
			if tc.stepped {
				if err != nil || len(set) != 1 || set[0].Sub(tc.host).Abs() > time.Second {
					t.Fatalf("within the bound: %v, set %v", err, set)
				}
				return
			}
			var se *ClockStepError
			if !errors.As(err, &se) || !errors.Is(err, ErrClockStep) || len(set) != 0 {
				t.Fatalf("SyncClock: %v, set %v; want a *ClockStepError and the clock left alone", err, set)
			}
			if se.Max != DefaultMaxClockStep || se.Offset.Abs() <= se.Max {
				t.Fatalf("ClockStepError %+v", se)
			}
		})
	}
}

// A MaxStep of months would let the parent move the clock that far from
// the NSM's, so the bound would bound nothing: SyncClock refuses a MaxStep
// over MaxClockStepLimit (or negative) with a *ClockConfigError before it
// asks the host, and never sets the clock.
func TestSyncClockMaxStepBounded(t *testing.T) {
	nsm := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	host := nsm.AddDate(0, 3, 0) // the parent names a time three months ahead
	asked := 0
	addr := timeRoute(t, func() string { asked++; return fmt.Sprintf(`{"unix_nano":%d}`, host.UnixNano()) }, nil, 0)
	for _, step := range []time.Duration{MaxClockStepLimit + time.Nanosecond, 365 * 24 * time.Hour, time.Duration(1<<63 - 1), -time.Minute} {
		var set []time.Time
		_, err := SyncClock(context.Background(), &ClockConfig{Addr: addr, MaxStep: step, MaxRTT: testMaxRTT,
			Clock:     func() time.Time { return time.Unix(0, 0) },
			Reference: func() (time.Time, error) { return nsm, nil },
			Set:       func(t time.Time) error { set = append(set, t); return nil }, Logger: slog.New(slog.DiscardHandler)})
		var ce *ClockConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrClockConfig) || len(set) != 0 {
			t.Fatalf("MaxStep %v: %v, set %v; want a *ClockConfigError and the clock left alone", step, err, set)
		}
		if ce.Field != "MaxStep" || ce.Value != step || ce.Max != MaxClockStepLimit {
			t.Fatalf("MaxStep %v: ClockConfigError %+v", step, ce)
		}
	}
	if asked != 0 {
		t.Fatalf("the host was asked %d times with a bad MaxStep", asked)
	}
	// The limit itself is accepted (and still refuses three months).
	_, err := SyncClock(context.Background(), &ClockConfig{Addr: addr, MaxStep: MaxClockStepLimit, MaxRTT: testMaxRTT,
		Clock:     func() time.Time { return time.Unix(0, 0) },
		Reference: func() (time.Time, error) { return nsm, nil },
		Set:       func(time.Time) error { t.Fatal("clock set"); return nil }, Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, ErrClockStep) {
		t.Fatalf("MaxStep at the limit: %v, want ErrClockStep", err)
	}
}

// TestSyncClockRepeatedSyncsNeedReference: without a Reference each sync
// may step a set clock by up to MaxStep, and nothing bounds the sum: a
// parent answering "enclave + 4m50s" to a periodic sync walks the clock
// an hour ahead in twelve. So SyncClock refuses to run without a
// Reference (a *ClockConfigError naming it, before the host is asked)
// unless AllowNoReferenceUnsafe says so, and refuses the two together;
// with a Reference the twelve syncs move the clock once, within MaxStep.
func TestSyncClockRepeatedSyncsNeedReference(t *testing.T) {
	nsm := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	ref := func() (time.Time, error) { return nsm, nil }
	for _, tc := range []struct {
		name      string
		reference func() (time.Time, error)
		unsafe    bool
		field     string // the ClockConfigError's, "" for none
		maxMoved  time.Duration
	}{
		{"no Reference", nil, false, "Reference", 0},
		{"Reference and AllowNoReferenceUnsafe", ref, true, "AllowNoReferenceUnsafe", 0},
		{"Reference", ref, false, "", DefaultMaxClockStep},
		{"AllowNoReferenceUnsafe: unbounded, as documented", nil, true, "", time.Duration(1<<63 - 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &manualClock{now: nsm}
			asked := 0
			addr := timeRoute(t, func() string {
				asked++
				return fmt.Sprintf(`{"unix_nano":%d}`, clk.Now().Add(DefaultMaxClockStep-10*time.Second).UnixNano())
			}, nil, 0)
			for range 12 {
				_, err := SyncClock(context.Background(), &ClockConfig{Addr: addr, MaxRTT: testMaxRTT, Clock: clk.Now,
					Reference: tc.reference, AllowNoReferenceUnsafe: tc.unsafe,
					Set:    func(t time.Time) error { clk.mu.Lock(); clk.now = t; clk.mu.Unlock(); return nil },
					Logger: slog.New(slog.DiscardHandler)})
				if tc.field == "" {
					continue
				}
				var ce *ClockConfigError
				if !errors.As(err, &ce) || !errors.Is(err, ErrClockConfig) || ce.Field != tc.field {
					t.Fatalf("SyncClock: %v; want a *ClockConfigError for %s", err, tc.field)
				}
			}
			moved := clk.Now().Sub(nsm)
			if moved > tc.maxMoved {
				t.Fatalf("12 syncs moved the clock %v ahead; MaxStep is %v", moved, DefaultMaxClockStep)
			}
			if tc.field != "" && asked != 0 {
				t.Fatalf("the host was asked %d times", asked)
			}
			if tc.unsafe && tc.field == "" && moved <= time.Hour-5*time.Minute {
				t.Fatalf("AllowNoReferenceUnsafe: 12 syncs moved the clock %v; the doc says it is unbounded", moved)
			}
		})
	}
}

// TestClockConfigErrorsAll: every wrong field is reported at once.
func TestClockConfigErrorsAll(t *testing.T) {
	_, err := SyncClock(context.Background(), &ClockConfig{Addr: "tcp://127.0.0.1:1", MaxStep: 2 * MaxClockStepLimit})
	var fields []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if ce, ok := e.(*ClockConfigError); ok {
				fields = append(fields, ce.Field)
			}
		}
	}
	if !errors.Is(err, ErrClockConfig) || fmt.Sprint(fields) != "[MaxStep Reference]" {
		t.Fatalf("SyncClock: %v; want ClockConfigErrors for MaxStep and Reference", err)
	}
}
