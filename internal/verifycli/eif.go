// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/enclavekit/enclavekit/eif"
	"github.com/enclavekit/enclavekit/internal/cli"
)

// This file holds nitro-verify's enclave image (EIF) support: the
// "measure" subcommand and the --eif flag. Both stream the image through
// eif.Read, so memory stays bounded whatever the image's size.

const measureUsage = `Usage: nitro-verify measure IMAGE.eif
       nitro-verify measure help | version

Measure an enclave image file (EIF) without nitro-cli or Docker, and print
the JSON that 'nitro-cli describe-eif' prints: EifVersion, Measurements
(HashAlgorithm, PCR0, PCR1, PCR2, and PCR8 for a signed image), IsSigned,
SigningCertificate, CheckCRC, SignatureCheck, ImageName, ImageVersion and
Metadata. The image is read strictly, in constant memory: a corrupt,
truncated or tampered image (bad CRC, bad signature) is refused.

The Measurements object can be given to --pcrs, or the image itself to
--eif, to verify an attestation document against it.

Flags:
    --version     Print the version and exit (also: nitro-verify measure version).
    -h, --help    Print this help and exit (also: nitro-verify measure help).

Exit status: 0 measured, 1 the image is refused, 2 usage or I/O error.
`

// runMeasure runs "nitro-verify measure ARGS". It takes -h, --help and
// help (its own help), --version and version, as the top level does.
func runMeasure(args []string, stdout, stderr io.Writer) int {
	p := &cli.Program{Name: "nitro-verify", Stdout: stdout, Stderr: stderr}
	exit := func(err error) int {
		if errors.Is(err, cli.ErrHelp) {
			return p.WriteHelp(measureUsage) // exit 2 when it cannot be written
		}
		return p.Exit(err, measureUsage)
	}
	fs := flag.NewFlagSet("measure", flag.ContinueOnError)
	version := fs.Bool("version", false, "")
	var files []string
	for {
		if err := cli.ParseFlags(fs, args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				err = cli.ErrHelp
			} else {
				err = cli.WithHint(err, p.UsageHint("measure"))
			}
			return exit(err)
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *version {
		return exit(cli.ErrVersion)
	}
	if err := cli.HelpArg(files); err != nil {
		return exit(err) // "measure help", "measure version"
	}
	if len(files) != 1 {
		return p.Fail(cli.WithHint(cli.Usagef("measure: want one image file, got %d", len(files)), p.UsageHint("measure")))
	}
	img, err := measureFile(files[0])
	if err != nil {
		if !isImageError(err) {
			return p.Fail(fileError("measure", files[0], err, hintMeasureFile))
		}
		return p.Fail(imageRefused("measure "+files[0], err))
	}
	out, err := img.Describe().JSON()
	if err == nil {
		// The metadata is the builder's, unsigned and unmeasured: its
		// control characters are escaped as the verify report's are.
		_, err = stdout.Write(escapeJSONControls(out))
	}
	if err != nil {
		p.Errorf("writing the description: %v", err)
		return ExitUsage
	}
	return ExitVerified
}

// imageRefused describes a refused image, with a hint when one helps.
func imageRefused(what string, err error) error {
	err = fmt.Errorf("%s: image refused: %w", what, err)
	switch {
	case errors.Is(err, eif.ErrCRCMismatch):
		return cli.WithHint(err, "the file is corrupt, or was changed after it was built")
	case errors.Is(err, eif.ErrBadSignature):
		return cli.WithHint(err, "the signature section does not sign this image with its certificate; re-sign it (nitro-cli sign-eif) or rebuild it")
	}
	return err
}

// measureFile reads and measures the image in name. For a regular file
// the size is known, so a truncated or padded image is refused before
// anything is hashed.
func measureFile(name string) (*eif.Image, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return eif.Read(f) // a pipe or device: stream to its end
	}
	return eif.ReadAt(f, fi.Size())
}

func isImageError(err error) bool {
	for _, e := range []error{eif.ErrMalformed, eif.ErrUnsupported, eif.ErrCRCMismatch, eif.ErrBadSignature} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// eifPCRs returns the PCRs measured from the image for --eif: PCR0, PCR1,
// PCR2, and PCR8 if the image is signed.
func eifPCRs(name string) (map[int][]byte, error) {
	img, err := measureFile(name)
	if err != nil {
		if isImageError(err) {
			return nil, imageRefused("--eif "+name, err)
		}
		return nil, fileError("--eif", name, err, hintEIFFile)
	}
	return img.Measurements.PCRs(), nil
}
