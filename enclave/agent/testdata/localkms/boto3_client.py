# SPDX-License-Identifier: Apache-2.0
#
# An unmodified boto3 client of the agent's local KMS endpoint: it knows
# nothing of attestation. ENDPOINT and KEY_ID come from the environment;
# it prints JSON with the data key's SHA-256 and what Decrypt returned.
import base64, hashlib, json, os, sys

import boto3
from botocore.config import Config

kms = boto3.client("kms", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id="any", aws_secret_access_key="any",
                   config=Config(retries={"max_attempts": 1}))
dk = kms.generate_data_key(KeyId=os.environ["KEY_ID"], KeySpec="AES_256")
dec = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], KeyId=dk["KeyId"])
rnd = kms.generate_random(NumberOfBytes=24)
desc = kms.describe_key(KeyId=os.environ["KEY_ID"])
json.dump({
    "plaintext_len": len(dk["Plaintext"]),
    "plaintext_sha256": hashlib.sha256(dk["Plaintext"]).hexdigest(),
    "decrypt_matches": dec["Plaintext"] == dk["Plaintext"],
    "blob": base64.b64encode(dk["CiphertextBlob"]).decode(),
    "random_len": len(rnd["Plaintext"]),
    "key_arn": desc["KeyMetadata"]["Arn"],
}, sys.stdout)
