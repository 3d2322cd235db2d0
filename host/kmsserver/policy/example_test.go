// SPDX-License-Identifier: Apache-2.0

package policy_test

import (
	"fmt"
	"strings"

	"github.com/enclavekit/enclavekit/host/kmsserver/policy"
)

func Example() {
	image := strings.Repeat("7c1a", 24) // PCR0 of the approved enclave image, hex
	doc := []byte(`{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "Enable enclave data processing",
	    "Effect": "Allow",
	    "Principal": {"AWS": "arn:aws:iam::111122223333:role/data-processing"},
	    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
	    "Resource": "*",
	    "Condition": {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:ImageSha384": "` + image + `"}}
	  }]
	}`)
	p, err := policy.Parse(doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	req := policy.Request{
		Principal: "arn:aws:iam::111122223333:role/data-processing",
		Action:    "kms:Decrypt",
	}

	// No attestation document in the request.
	fmt.Println(p.Evaluate(req).Reason)

	// The verified document's PCRs.
	req.Context = policy.AddAttestation(nil, map[int][]byte{0: {0x7c, 0x1a}})
	fmt.Println(p.Evaluate(req).Reason)

	req.Context = policy.AddAttestation(nil, map[int][]byte{0: []byte(strings.Repeat("\x7c\x1a", 24))})
	d := p.Evaluate(req)
	fmt.Println(d.Allowed, d.Reason)
	// Output:
	// no attestation document presented (condition on kms:RecipientAttestation:ImageSha384) (statement "Enable enclave data processing")
	// condition StringEqualsIgnoreCase kms:RecipientAttestation:ImageSha384: expected "7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a7c1a", presented "7c1a" (statement "Enable enclave data processing")
	// true allowed by statement "Enable enclave data processing"
}

func ExampleParse_unsupported() {
	_, err := policy.Parse([]byte(`{
	  "Version": "2012-10-17",
	  "Statement": {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
	    "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}
	}`))
	fmt.Println(err)
	// Output:
	// policy: Statement[0].Condition.StringNotEquals.aws:SourceVpce: condition key "aws:SourceVpce" is not supported
}

func ExampleDefaultKeyPolicy() {
	p, err := policy.Parse(policy.DefaultKeyPolicy("111122223333"))
	if err != nil {
		fmt.Println(err)
		return
	}
	d := p.Evaluate(policy.Request{Principal: "arn:aws:iam::111122223333:user/alice", Action: "kms:CreateAlias"})
	fmt.Println(d.Allowed, d.MatchedStatement)
	d = p.Evaluate(policy.Request{Principal: "arn:aws:iam::444455556666:user/mallory", Action: "kms:Decrypt"})
	fmt.Println(d.Allowed, d.Reason)
	// Output:
	// true Enable IAM User Permissions
	// false no statement allows kms:Decrypt for arn:aws:iam::444455556666:user/mallory
}
