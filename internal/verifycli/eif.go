// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/enclavekit/enclavekit/eif"
)

// This file holds nitro-verify's enclave image (EIF) support: the
// "measure" subcommand and the --eif flag. Both stream the image through
// eif.Read, so memory stays bounded whatever the image's size.

const measureUsage = `Usage: nitro-verify measure IMAGE.eif

Measure an enclave image file (EIF) without nitro-cli or Docker, and print
the JSON that 'nitro-cli describe-eif' prints: EifVersion, Measurements
(HashAlgorithm, PCR0, PCR1, PCR2, and PCR8 for a signed image), IsSigned,
SigningCertificate, CheckCRC, SignatureCheck, ImageName, ImageVersion and
Metadata. The image is read strictly, in constant memory: a corrupt,
truncated or tampered image (bad CRC, bad signature) is refused.

The Measurements object can be given to --pcrs, or the image itself to
--eif, to verify an attestation document against it.

Exit status: 0 measured, 1 the image is refused, 2 usage or I/O error.
`

// runMeasure runs "nitro-verify measure ARGS".
func runMeasure(args []string, stdout, stderr io.Writer) int {
	var files []string
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			io.WriteString(stdout, measureUsage)
			return ExitVerified
		}
		if len(a) > 1 && a[0] == '-' {
			fmt.Fprintf(stderr, "nitro-verify: error: measure: unknown flag %s\nnitro-verify: hint: run nitro-verify measure --help for usage\n", a)
			return ExitUsage
		}
		files = append(files, a)
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "nitro-verify: error: measure: want one image file, got %d\nnitro-verify: hint: run nitro-verify measure --help for usage\n", len(files))
		return ExitUsage
	}
	img, err := measureFile(files[0])
	if err != nil {
		return eifError(stderr, "measure "+files[0], err)
	}
	out, err := img.Describe().JSON()
	if err == nil {
		_, err = stdout.Write(out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "nitro-verify: error: writing the description: %v\n", err)
		return ExitUsage
	}
	return ExitVerified
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

// eifError reports an image error: exit 1 when the image is refused, 2
// when it could not be read.
func eifError(stderr io.Writer, what string, err error) int {
	if !isImageError(err) {
		fmt.Fprintf(stderr, "nitro-verify: error: %s: %v\n", what, err)
		return ExitUsage
	}
	fmt.Fprintf(stderr, "nitro-verify: error: %s: image refused: %v\n", what, err)
	switch {
	case errors.Is(err, eif.ErrCRCMismatch):
		fmt.Fprintf(stderr, "nitro-verify: hint: the file is corrupt, or was changed after it was built\n")
	case errors.Is(err, eif.ErrBadSignature):
		fmt.Fprintf(stderr, "nitro-verify: hint: the signature section does not sign this image with its certificate; re-sign it (nitro-cli sign-eif) or rebuild it\n")
	}
	return ExitRejected
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
			return nil, fmt.Errorf("--eif %s: image refused: %w", name, err)
		}
		return nil, fmt.Errorf("--eif %s: %w", name, err)
	}
	return img.Measurements.PCRs(), nil
}
