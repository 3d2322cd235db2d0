// SPDX-License-Identifier: Apache-2.0

package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/enclave/emulator"
	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/cli"
	"github.com/enclavekit/enclavekit/internal/nitroca"
)

func (a *app) logger() (*slog.Logger, error) {
	if a.log != nil {
		return a.log, nil
	}
	lvl, err := cli.ParseLogLevel(a.g.logLevel)
	if err != nil {
		return nil, err
	}
	a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
	return a.log, nil
}

// openNSM opens the device or starts the emulator, as --nsm says.
func (a *app) openNSM() (enclave.NSM, error) {
	log, err := a.logger()
	if err != nil {
		return nil, err
	}
	switch a.g.nsm {
	case "device":
		if a.g.emulatorState != "" || a.g.emulatorRootOut != "" || a.g.measurements != "" || a.g.debugMode ||
			a.g.pcr0 != "" || a.g.pcr1 != "" || a.g.pcr2 != "" || len(a.g.pcrs) > 0 {
			return nil, usagef("emulator flags given with --nsm device: add --nsm emulator")
		}
		d, err := enclave.OpenDevice()
		if err != nil {
			return nil, err
		}
		return d, nil
	case "emulator":
	default:
		return nil, usagef("--nsm %q: want device or emulator", a.g.nsm)
	}
	pcrs := map[int][]byte{}
	from := map[int]string{} // the flag (or file) each PCR came from
	if a.g.measurements != "" {
		b, err := boundedfile.Read(a.g.measurements, maxMeasurementsFile)
		if err != nil {
			return nil, cli.Usagef("--image-measurements: %v", err)
		}
		if pcrs, err = emulator.ParseMeasurements(b); err != nil {
			var me *emulator.MeasurementsError
			if errors.As(err, &me) { // the file's problem, in its own terms
				return nil, usagef("--image-measurements %s: %s", a.g.measurements, me.Reason)
			}
			return nil, err
		}
		for i := range pcrs {
			from[i] = "--image-measurements " + a.g.measurements
		}
	}
	set := func(flag string, i int, s string) error {
		v, err := emulator.ParsePCRHex(s)
		if err != nil {
			return usagef("%s: %v", flag, err)
		}
		pcrs[i], from[i] = v, flag
		return nil
	}
	for i, s := range []string{a.g.pcr0, a.g.pcr1, a.g.pcr2} {
		if s != "" {
			if err := set(fmt.Sprintf("--pcr%d", i), i, s); err != nil {
				return nil, err
			}
		}
	}
	for i, s := range a.g.pcrs {
		if err := set(fmt.Sprintf("--pcr %d=HEX", i), i, s); err != nil {
			return nil, err
		}
	}
	emu, err := emulator.New(&emulator.Config{
		PCRs: pcrs, Debug: a.g.debugMode, StateDir: a.g.emulatorState, Region: a.g.region, Logger: log,
	})
	if err != nil {
		return nil, imageError(err, pcrs, from, a.g.measurements)
	}
	if a.g.emulatorRootOut != "" {
		if err := writeFile("--emulator-root-out", a.g.emulatorRootOut, emu.RootPEM(), 0o644); err != nil {
			return nil, err
		}
		log.Info("wrote the emulator root certificate", slog.String("file", a.g.emulatorRootOut))
	}
	return emu, nil
}

// hintNoImage says how to give the emulator its image.
const hintNoImage = "the emulator boots an image: give its PCR0 with --pcr0 HEX or --image-measurements FILE, or --debug-mode for a debug-mode enclave"

// imageError says err, emulator.New's, in the CLI's terms: the boot
// measurements it refuses (none without --debug-mode, PCR0-PCR2 with it, a
// PCR0 of all zeros without it) as usage errors naming the flags (or the
// file) the values came from. from names the source of each PCR in pcrs;
// file is --image-measurements ("" if not given).
func imageError(err error, pcrs map[int][]byte, from map[int]string, file string) error {
	switch {
	case errors.Is(err, emulator.ErrDebugWithImage):
		var given []string
		for i := range 3 {
			if _, ok := pcrs[i]; ok && !slices.Contains(given, from[i]) {
				given = append(given, from[i])
			}
		}
		return cli.WithHint(usagef("--debug-mode with %s: a debug-mode enclave's PCR0, PCR1 and PCR2 are all zero", strings.Join(given, " and ")),
			"give --debug-mode for a debug-mode enclave, or the image's measurements without it")
	case errors.Is(err, emulator.ErrNoImage) && file != "":
		return cli.WithHint(usagef("--image-measurements %s: no PCR0 (the image measurement)", file), hintNoImage)
	case errors.Is(err, emulator.ErrNoImage):
		return cli.WithHint(usagef("--nsm emulator: no image measurement (PCR0) given"), hintNoImage)
	case errors.Is(err, emulator.ErrZeroPCR0):
		src := from[0] + ":"
		if file != "" && from[0] == "--image-measurements "+file {
			src += " PCR0"
		}
		return cli.WithHint(usagef("%s all zero is a debug-mode enclave", src), "give --debug-mode for a debug-mode enclave")
	case errors.Is(err, emulator.ErrConfig):
		msg := strings.TrimPrefix(err.Error(), emulator.ErrConfig.Error()+": ")
		return cli.WithHint(usagef("--nsm emulator: %s", msg), hintNoImage)
	}
	return err
}

func (a *app) attest(args []string) error {
	fs := a.flags("attest")
	nonce := fs.String("nonce", "", "")
	userData := fs.String("user-data", "", "")
	publicKey := fs.String("public-key", "", "")
	format := fs.String("format", "raw", "")
	out := fs.String("out", "", "")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	n, err := decodeHexFlag("nonce", *nonce)
	if err != nil {
		return err
	}
	u, err := decodeHexFlag("user-data", *userData)
	if err != nil {
		return err
	}
	p, err := decodeHexFlag("public-key", *publicKey)
	if err != nil {
		return err
	}
	var enc func([]byte) []byte
	switch *format {
	case "raw":
		enc = func(b []byte) []byte { return b }
	case "base64":
		enc = func(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b) + "\n") }
	case "hex":
		enc = func(b []byte) []byte { return []byte(hex.EncodeToString(b) + "\n") }
	default:
		return usagef("attest: --format %q: want raw, base64 or hex", *format)
	}
	nsm, err := a.openNSM()
	if err != nil {
		return err
	}
	defer nsm.Close()
	doc, err := nsm.Attestation(n, u, p)
	if err != nil {
		return err
	}
	return a.output(*out, enc(doc))
}

// pcrCommands are pcr's subcommands ("pcr describe N", ...), in the order
// the usage and the messages name them.
var pcrCommands = []string{"describe", "extend", "lock", "lock-range"}

func (a *app) pcr(args []string) error {
	name := "pcr" // the flags' hint names the subcommand when it comes first
	if len(args) > 0 && slices.Contains(pcrCommands, args[0]) {
		name += " " + args[0]
	}
	fs := a.flags(name)
	data := fs.String("data", "", "")
	dataFile := fs.String("data-file", "", "")
	pos, err := a.parse(fs, args) // "pcr help": help
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("pcr: want describe, extend, lock or lock-range")
	}
	sub, pos := pos[0], pos[1:]
	if !slices.Contains(pcrCommands, sub) {
		return usagef("pcr: unknown subcommand %q: want describe, extend, lock or lock-range", sub)
	}
	if err := cli.HelpArg(pos); err != nil { // "pcr describe help"
		return err
	}
	if len(pos) != 1 {
		return usagef("pcr %s: want one PCR index (or range)", sub)
	}
	idx, err := strconv.Atoi(pos[0])
	if err != nil || idx < 0 {
		return usagef("pcr %s: %q is not a PCR index", sub, pos[0])
	}
	if sub != "extend" && (*data != "" || *dataFile != "") {
		return usagef("pcr %s: --data is for pcr extend", sub)
	}
	var payload []byte
	if sub == "extend" {
		if (*data == "") == (*dataFile == "") {
			return usagef("pcr extend: give exactly one of --data HEX and --data-file FILE")
		}
		if *data != "" {
			if payload, err = decodeHexFlag("data", *data); err != nil {
				return err
			}
		} else if payload, err = boundedfile.Read(*dataFile, maxExtendData); err != nil {
			return cli.Usagef("pcr extend: --data-file: %v", err)
		}
	}
	nsm, err := a.openNSM()
	if err != nil {
		return err
	}
	defer nsm.Close()
	type pcrJSON struct {
		Index  int    `json:"index"`
		Value  string `json:"value"`
		Locked bool   `json:"locked"`
	}
	switch sub {
	case "describe":
		v, locked, err := nsm.DescribePCR(idx)
		if err != nil {
			return err
		}
		return a.printJSON(pcrJSON{idx, hex.EncodeToString(v), locked})
	case "extend":
		v, err := nsm.ExtendPCR(idx, payload)
		if err != nil {
			return err
		}
		return a.printJSON(pcrJSON{idx, hex.EncodeToString(v), false})
	case "lock":
		if err := nsm.LockPCR(idx); err != nil {
			return err
		}
		v, locked, err := nsm.DescribePCR(idx)
		if err != nil {
			return err
		}
		return a.printJSON(pcrJSON{idx, hex.EncodeToString(v), locked})
	default: // lock-range
		if err := nsm.LockPCRs(idx); err != nil {
			return err
		}
		d, err := nsm.DescribeNSM()
		if err != nil {
			return err
		}
		return a.printJSON(map[string]any{"locked_pcrs": d.LockedPCRs})
	}
}

func (a *app) describeNSM(args []string) error {
	fs := a.flags("describe-nsm")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	nsm, err := a.openNSM()
	if err != nil {
		return err
	}
	defer nsm.Close()
	d, err := nsm.DescribeNSM()
	if err != nil {
		return err
	}
	return a.printJSON(map[string]any{
		"version":     fmt.Sprintf("%d.%d.%d", d.VersionMajor, d.VersionMinor, d.VersionPatch),
		"module_id":   d.ModuleID,
		"max_pcrs":    d.MaxPCRs,
		"locked_pcrs": d.LockedPCRs,
		"digest":      d.Digest,
	})
}

func (a *app) emulatorRoot(args []string) error {
	fs := a.flags("emulator-root")
	out := fs.String("out", "", "")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	if a.g.emulatorState == "" {
		return usagef("emulator-root: --emulator-state DIR is required (a root not kept there dies with this process)")
	}
	if err := os.MkdirAll(a.g.emulatorState, 0o700); err != nil {
		return err
	}
	// The root only: starting an emulator here would boot (and so reset)
	// the state directory's PCR bank.
	root, err := nitroca.LoadOrCreateRoot(filepath.Join(a.g.emulatorState, emulator.RootCertFile),
		filepath.Join(a.g.emulatorState, emulator.RootKeyFile), rand.Reader, time.Now())
	if err != nil {
		return err
	}
	// The root certificate is public (verifiers need it): 0644. Its
	// private key stays in the state directory, 0600.
	return a.outputMode(*out, root.CertPEM(), 0o644)
}

// Bounds on the files nsm and pcr commands read.
const (
	// maxMeasurementsFile bounds --image-measurements: the JSON that
	// nitro-cli describe-eif prints (measurements, a signing certificate's
	// details) is a few KiB.
	maxMeasurementsFile = boundedfile.MiB
	// maxExtendData bounds --data-file: the whole NSM request is at most
	// enclave.MaxRequestSize (4 KiB), so 64 KiB is a mistaken path; the
	// NSM still refuses data over its own limit.
	maxExtendData = 64 * boundedfile.KiB
)
