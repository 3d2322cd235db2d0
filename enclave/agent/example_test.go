// SPDX-License-Identifier: Apache-2.0

package agent_test

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/enclave/agent"
)

// Inside an enclave against real AWS KMS: every connection goes to the
// host-proxy on vsock port 8000, TLS runs end to end with
// kms.eu-west-1.amazonaws.com, credentials come from the host, and every
// answer must name a key in the application's account.
func ExampleClient_GenerateDataKey() {
	nsm, err := enclave.OpenDevice()
	if err != nil {
		log.Fatal(err) // outside an enclave: use the emulator for development
	}
	defer nsm.Close()
	c, err := agent.New(&agent.Config{
		NSM:         nsm,
		Region:      "eu-west-1",
		Proxy:       "vsock://3:8000",
		Credentials: &agent.EndpointCredentials{Addr: "vsock://3:8003"},
		// The account that holds the key: the parent supplies the
		// credentials, and could pick their account (New refuses
		// EndpointCredentials without it).
		KMSAccount: "111122223333",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	dk, err := c.GenerateDataKey(context.Background(), &kms.GenerateDataKeyInput{
		KeyId: aws.String("alias/enclave-data"), KeySpec: "AES_256",
	})
	if err != nil {
		log.Fatal(err) // e.g. AccessDeniedException naming the PCR condition
	}
	defer clear(dk.Plaintext)
	// Use dk.Plaintext inside the enclave; store dk.CiphertextBlob outside.
	_ = os.WriteFile("/tmp/data-key.blob", dk.CiphertextBlob, 0o600)
}

// The attestation endpoint for remote verifiers, on vsock port 5000.
func ExampleServe() {
	nsm, err := enclave.OpenDevice()
	if err != nil {
		log.Fatal(err)
	}
	h, err := agent.NewEndpoint(&agent.EndpointConfig{NSM: nsm, Kind: "device"})
	if err != nil {
		log.Fatal(err)
	}
	// curl -d '{"nonce":"00112233"}' http://HOST/v1/attestation > doc.cbor (through the host-proxy's ingress route)
	log.Fatal(agent.Serve(context.Background(), "vsock://any:5000", h, nil))
}
