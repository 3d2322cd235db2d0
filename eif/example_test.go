// SPDX-License-Identifier: Apache-2.0

package eif_test

import (
	"bytes"
	"fmt"
	"io"
	"log"

	"github.com/enclavekit/enclavekit/eif"
)

func section(b []byte) *io.SectionReader {
	return io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b)))
}

// Build an image, then measure it as nitro-cli describe-eif would.
func ExampleRead() {
	var image bytes.Buffer
	_, err := eif.Write(&image, &eif.Spec{
		Kernel:   section([]byte("kernel")),
		Cmdline:  "cmdline",
		Ramdisks: []*io.SectionReader{section([]byte("ramdisk0")), section([]byte("ramdisk1"))},
	})
	if err != nil {
		log.Fatal(err)
	}
	img, err := eif.Read(&image) // any io.Reader: an *os.File streams in constant memory
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("PCR0 %x\n", img.Measurements.PCR0)
	fmt.Printf("PCR1 %x\n", img.Measurements.PCR1)
	fmt.Printf("PCR2 %x\n", img.Measurements.PCR2)
	// Output:
	// PCR0 9476662f525a28aa994c65883117bdacb3a0911961b455e0db6c85ff33269432fff9368094f6a413095e29bada04472e
	// PCR1 bb597e78cae555537aea0843f40c48b9a510188880a82351eac8c7930825ac391554907e4354f431f36fbc82416d18b4
	// PCR2 361b4f176971a5893fc98afbed75853fdc33c130370ca7cf9fa27578446d3708611d899a2703095c7335733c0d099d46
}
