// SPDX-License-Identifier: Apache-2.0
//
// An unmodified @aws-sdk/client-kms client, its retries as configured by
// default: it calls Decrypt on the local KMS endpoint CALLS times with the
// stored blob BLOB (base64), under the key KEY_ID, and prints, per call, the HTTP status and the
// error code (or 200 and "" on success) as JSON.
import { KMSClient, DecryptCommand } from "@aws-sdk/client-kms";

const kms = new KMSClient({
  endpoint: process.env.ENDPOINT, region: "us-east-1",
  credentials: { accessKeyId: "any", secretAccessKey: "any" },
});
const blob = Buffer.from(process.env.BLOB, "base64");
const out = [];
for (let i = 0; i < Number(process.env.CALLS); i++) {
  try {
    await kms.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: process.env.KEY_ID }));
    out.push({ status: 200, code: "" });
  } catch (e) {
    out.push({ status: e.$metadata?.httpStatusCode ?? 0, code: e.name });
  }
}
process.stdout.write(JSON.stringify(out));
