// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/internal/transport"
)

// Defaults for [ClockConfig].
const (
	DefaultTimePath     = "/v1/time"
	DefaultMaxClockStep = 5 * time.Minute
	DefaultMaxRTT       = 2 * time.Second
	// clockTolerance is the offset below which the clock is left alone.
	clockTolerance = 50 * time.Millisecond
)

// MaxClockStepLimit is the largest [ClockConfig] MaxStep: the bound is
// what keeps the parent instance from moving the enclave's clock (a step of
// a year would let it revive expired certificates or pass a rotation
// date), so a larger one is refused with a [ClockConfigError] rather than
// let it bound nothing.
const MaxClockStepLimit = time.Hour

// maxTimeHeader bounds the time route's answer head
// (TestSyncClockHeaderBound): transport.RouteHTTP's bound.
const maxTimeHeader = transport.MaxRouteHeader

// DefaultClockFloor is the earliest time a set clock can show: an enclave
// clock before it is taken as unset, and the host's time, if after it, is
// accepted whatever the step.
var DefaultClockFloor = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrClockStep is matched by a [ClockStepError].
var ErrClockStep = errors.New("boot: the host's time is too far from the enclave's clock")

// ClockStepError reports a host time that would step the clock by more than
// MaxStep: it is logged and refused, since the parent instance could
// otherwise move the enclave's clock at will (certificate validity,
// freshness checks).
type ClockStepError struct {
	Offset, Max time.Duration
}

func (e *ClockStepError) Error() string {
	return fmt.Sprintf("boot: the host's time is %v from the enclave's clock, more than the %v allowed (max step)", e.Offset, e.Max)
}

// Is matches [ErrClockStep].
func (e *ClockStepError) Is(target error) bool { return target == ErrClockStep }

// ErrClockConfig is matched by a [ClockConfigError].
var ErrClockConfig = errors.New("boot: bad clock configuration")

// ClockConfigError reports a [ClockConfig] field that is wrong: MaxStep
// negative or over [MaxClockStepLimit]; Reference missing without
// AllowNoReferenceUnsafe; AllowNoReferenceUnsafe set beside a Reference.
// [SyncClock] returns it before it asks the host (several joined with
// [errors.Join] when several fields are wrong).
type ClockConfigError struct {
	// Field is the ClockConfig field, e.g. "MaxStep".
	Field string
	// Value is the value given; Max the largest accepted (for MaxStep).
	Value, Max time.Duration
	// Reason says what is wrong with a field that is no duration
	// (Reference, AllowNoReferenceUnsafe); "" for MaxStep.
	Reason string
}

func (e *ClockConfigError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("boot: ClockConfig.%s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("boot: ClockConfig.%s %v is out of range: want 0 (the default) up to %v", e.Field, e.Value, e.Max)
}

// Is matches [ErrClockConfig].
func (e *ClockConfigError) Is(target error) bool { return target == ErrClockConfig }

// ClockConfig configures [SyncClock].
type ClockConfig struct {
	// Addr is host-proxy's time route (a transport address, e.g.
	// vsock://3:8004). Required.
	Addr string
	// Path is the HTTP path; "" is DefaultTimePath.
	Path string
	// MaxStep bounds a correction once the clock is set, and the distance
	// from Reference; 0 is DefaultMaxClockStep, negative or over
	// [MaxClockStepLimit] is a [ClockConfigError].
	MaxStep time.Duration
	// Floor: a clock before it counts as unset (any host time after Floor
	// is then accepted); zero is DefaultClockFloor.
	Floor time.Time
	// MaxRTT refuses an answer that took longer (its time is too uncertain);
	// 0 is DefaultMaxRTT.
	MaxRTT time.Duration
	// Clock reads the clock; nil is time.Now.
	Clock func() time.Time
	// Reference reads a clock the parent instance cannot set ([NSMTime]:
	// the timestamp of a document the NSM makes). The host's time must be
	// within MaxStep of it, whether the enclave's clock is set or not
	// ([ClockStepError] beyond, and the clock is left alone), so repeated
	// syncs cannot add their steps up. Required: nil is a
	// [ClockConfigError] unless AllowNoReferenceUnsafe.
	Reference func() (time.Time, error)
	// AllowNoReferenceUnsafe lets SyncClock run without a Reference, which
	// it otherwise refuses ([ClockConfigError]). Then nothing the parent
	// instance cannot set bounds the clock: each sync steps a set clock by
	// up to MaxStep with no bound on the sum (a parent answering each of a
	// periodic sync's requests MaxStep ahead walks the clock as far as it
	// likes), and an unset clock takes any host time after Floor. Only
	// where there is no NSM (tests, development outside an enclave); it
	// cannot be combined with a Reference. SyncClock, which has no
	// constructor, logs a WARN through Logger at every call with it set.
	AllowNoReferenceUnsafe bool
	// Set sets the clock; nil is [SetSystemClock].
	Set func(time.Time) error
	// Logger; nil is slog.Default().
	Logger *slog.Logger
}

// ClockResult is what [SyncClock] measured and did.
type ClockResult struct {
	// Offset is the host's time minus the enclave's, at the midpoint of the
	// request.
	Offset time.Duration
	// RTT is the request's round trip.
	RTT time.Duration
	// Stepped is true when the clock was set.
	Stepped bool
}

// SyncClock asks the host's time route for the time and steps the clock to
// it when the offset is over 50 ms plus half the round trip (the host's
// reading is somewhere within it), only to a host time within MaxStep of
// the Reference, whether the clock is set or unset ([ClockStepError]
// beyond, and the clock is left alone): however often it runs, the parent
// instance can move the clock at most MaxStep from the Reference's time.
// The offset is logged either way. A MaxStep out of range, or a missing
// Reference, is a [ClockConfigError], returned before the host is asked.
//
// With AllowNoReferenceUnsafe instead of a Reference, an unset clock
// (before Floor) takes any host time after Floor, and a set one any step
// up to MaxStep, at every call.
func SyncClock(ctx context.Context, cfg *ClockConfig) (*ClockResult, error) {
	c := *cfg
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.Path == "" {
		c.Path = DefaultTimePath
	}
	if c.MaxStep == 0 {
		c.MaxStep = DefaultMaxClockStep
	}
	if c.Floor.IsZero() {
		c.Floor = DefaultClockFloor
	}
	if c.MaxRTT == 0 {
		c.MaxRTT = DefaultMaxRTT
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Set == nil {
		c.Set = SetSystemClock
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.AllowNoReferenceUnsafe {
		// SyncClock has no constructor: said at every call, before the
		// host is asked.
		c.Logger.Warn("boot: clock sync with ClockConfig.AllowNoReferenceUnsafe: no reference clock bounds the host's time, so the parent instance can step a set clock by up to MaxStep at every sync, with no bound on the sum, and set an unset one to any time after Floor; only where there is no NSM",
			slog.String("option", "ClockConfig.AllowNoReferenceUnsafe"), slog.Duration("max_step", c.MaxStep))
	}
	addr, err := transport.ParseAddr(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("boot: time route: %w", err)
	}
	client := &http.Client{Timeout: 2 * c.MaxRTT, Transport: transport.RouteHTTP(addr)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://localhost"+c.Path, nil)
	if err != nil {
		return nil, err
	}
	t0 := c.Clock()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("boot: time route %s: %w", c.Addr, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	t1 := c.Clock()
	if err != nil {
		return nil, fmt.Errorf("boot: time route %s: %w", c.Addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("boot: time route %s: HTTP %d", c.Addr, resp.StatusCode)
	}
	var tj struct {
		UnixNano *int64 `json:"unix_nano"`
	}
	if err := json.Unmarshal(body, &tj); err != nil || tj.UnixNano == nil {
		return nil, fmt.Errorf("boot: time route %s: want {\"unix_nano\": N}", c.Addr)
	}
	rtt := t1.Sub(t0)
	if rtt < 0 || rtt > c.MaxRTT {
		return nil, fmt.Errorf("boot: time route %s: round trip %v exceeds %v: the time is too uncertain", c.Addr, rtt, c.MaxRTT)
	}
	host := time.Unix(0, *tj.UnixNano)
	mid := t0.Add(rtt / 2)
	res := &ClockResult{Offset: host.Sub(mid), RTT: rtt}
	log := c.Logger.With(slog.Duration("offset", res.Offset), slog.Duration("rtt", rtt), slog.Time("host_time", host))
	unset := mid.Before(c.Floor)
	if c.Reference != nil {
		ref, err := c.Reference()
		if err != nil {
			log.Error("boot: reading the reference clock failed: clock left alone", slog.String("error", err.Error()))
			return res, fmt.Errorf("boot: reference clock: %w", err)
		}
		// The host's time as of the reference's reading, by the enclave's
		// clock (which advances correctly even when unset).
		if off := host.Add(c.Clock().Sub(mid)).Sub(ref); off.Abs() > c.MaxStep {
			log.Error("boot: the host's time is too far from the reference clock (the NSM's): clock left alone",
				slog.Time("reference", ref), slog.Duration("max_step", c.MaxStep))
			return res, &ClockStepError{Offset: off, Max: c.MaxStep}
		}
	}
	switch {
	case host.Before(c.Floor):
		log.Error("boot: the host's time is before the clock floor: clock left alone", slog.Time("floor", c.Floor))
		return res, fmt.Errorf("boot: the host's time %s is before %s", host.Format(time.RFC3339), c.Floor.Format(time.RFC3339))
	case !unset && res.Offset.Abs() <= clockTolerance+rtt/2:
		// The host read its clock somewhere in the round trip: an offset
		// within half of it is no evidence of drift.
		log.Info("boot: clock within tolerance of the host's")
		return res, nil
	case !unset && res.Offset.Abs() > c.MaxStep:
		err := &ClockStepError{Offset: res.Offset, Max: c.MaxStep}
		log.Error("boot: the host's time is too far from the enclave's clock: clock left alone", slog.Duration("max_step", c.MaxStep))
		return res, err
	}
	// Set to the host's time as of now: the offset applied to the clock
	// read just before setting it.
	if err := c.Set(c.Clock().Add(res.Offset)); err != nil {
		log.Error("boot: setting the clock failed", slog.String("error", err.Error()))
		return res, fmt.Errorf("boot: setting the clock: %w", err)
	}
	res.Stepped = true
	log.Info("boot: clock set from the host's time", slog.Bool("was_unset", unset))
	return res, nil
}

// check reports every field that is wrong.
func (c *ClockConfig) check() error {
	var errs []error
	if c.MaxStep < 0 || c.MaxStep > MaxClockStepLimit {
		errs = append(errs, &ClockConfigError{Field: "MaxStep", Value: c.MaxStep, Max: MaxClockStepLimit})
	}
	switch {
	case c.Reference == nil && !c.AllowNoReferenceUnsafe:
		errs = append(errs, &ClockConfigError{Field: "Reference", Reason: "required (e.g. NSMTime): without it the parent instance can step the clock by MaxStep at every sync, without bound in total; AllowNoReferenceUnsafe runs without one where there is no NSM"})
	case c.Reference != nil && c.AllowNoReferenceUnsafe:
		errs = append(errs, &ClockConfigError{Field: "AllowNoReferenceUnsafe", Reason: "set beside a Reference: give one or the other"})
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// NSMTime returns a [ClockConfig] Reference reading the NSM's clock: the
// timestamp (milliseconds, UTC) of an attestation document it makes, set
// by the Nitro hypervisor, which the parent instance cannot move.
func NSMTime(nsm enclave.NSM) func() (time.Time, error) {
	return func() (time.Time, error) {
		raw, err := nsm.Attestation(nil, nil, nil)
		if err != nil {
			return time.Time{}, fmt.Errorf("NSM attestation: %w", err)
		}
		d, err := attestation.Parse(raw)
		if err != nil {
			return time.Time{}, fmt.Errorf("the NSM's document: %w", err)
		}
		return d.Timestamp, nil
	}
}
