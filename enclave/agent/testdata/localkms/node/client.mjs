// SPDX-License-Identifier: Apache-2.0
//
// An unmodified @aws-sdk/client-kms client of the agent's local KMS
// endpoint: it knows nothing of attestation. ENDPOINT and KEY_ID come from
// the environment; it prints JSON with the data key's SHA-256 and what
// Decrypt returned.
import { createHash } from "node:crypto";
import { KMSClient, GenerateDataKeyCommand, DecryptCommand, GenerateRandomCommand, DescribeKeyCommand } from "@aws-sdk/client-kms";

const kms = new KMSClient({
  endpoint: process.env.ENDPOINT, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "any", secretAccessKey: "any" },
});
const keyId = process.env.KEY_ID;
const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: "AES_256" }));
const dec = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, KeyId: dk.KeyId }));
const rnd = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 24 }));
const desc = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
process.stdout.write(JSON.stringify({
  plaintext_len: dk.Plaintext.length,
  plaintext_sha256: createHash("sha256").update(dk.Plaintext).digest("hex"),
  decrypt_matches: Buffer.from(dec.Plaintext).equals(Buffer.from(dk.Plaintext)),
  blob: Buffer.from(dk.CiphertextBlob).toString("base64"),
  random_len: rnd.Plaintext.length,
  key_arn: desc.KeyMetadata.Arn,
}));
