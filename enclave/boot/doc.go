// SPDX-License-Identifier: Apache-2.0

// Package boot holds the tasks an enclave needs before its application
// runs, which a Nitro Enclave does not get from its minimal kernel and
// image: `enclave-agent init` runs them, as PID 1 or before the
// application, and each is callable on its own.
//
//   - [SeedEntropy] seeds the kernel's random pool from the NSM's GetRandom
//     (the RNDADDENTROPY ioctl, crediting the entropy), so that getrandom(2)
//     and with it Go's crypto/rand, OpenSSL and every other library are
//     seeded from the hardware source early in boot. It checks each answer
//     first (not short, not all zeros, no repeat of an earlier one, and
//     NIST SP 800-90B's repetition count and adaptive proportion tests)
//     and fails closed, crediting nothing, with an [EntropyHealthError].
//   - [LoopbackUp] brings up the loopback interface, on which the agent's
//     local KMS endpoint and most applications listen.
//   - [SyncClock] sets the clock from the host's time route (host-proxy),
//     with the step bounded (ClockConfig.MaxStep, default 5 minutes, at
//     most [MaxClockStepLimit], one hour: a larger bound would bound
//     nothing, so it is a [ClockConfigError]), and with a Reference
//     ([NSMTime]) the host's time must agree with: the parent instance is
//     not trusted, so it may correct drift but not move the clock
//     arbitrarily, nor walk it away step by step over repeated syncs. The
//     Reference is required: ClockConfig.AllowNoReferenceUnsafe is the
//     loudly named way to run without one, where there is no NSM, and
//     each call with it logs a WARN saying what it gives away.
//   - [LogForwarder] sends the application's stdout and stderr to the host
//     over vsock, line by line, without ever blocking the application: when
//     the host is slow or away, lines are dropped and counted. The queue is
//     bounded in lines and in bytes (4 MiB by default): a host that never
//     reads holds it full, so its size is memory the parent can take.
//     The forwarder never reads from the host (the application's stdin is
//     /dev/null), and stamps lines to the millisecond only. Stopped, it
//     sends what is still queued (the application's last lines and exit
//     report), with one last dial if the host was away, for at most
//     WriteWait (5 s) in total, however the host behaves.
//   - [Supervise] runs the application, restarts it by policy, reports its
//     exit status (with its run time to the millisecond only, as log
//     records are stamped), stops it gracefully on SIGTERM (its whole
//     process group: an entrypoint script and the server it started) and,
//     as PID 1, reaps orphaned processes.
//
// The Linux-only parts (ioctls, clock_settime, prctl) live in _linux.go
// files; elsewhere they return [ErrUnsupported].
package boot
