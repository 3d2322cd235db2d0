#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
#
# An enclave application in Python that knows nothing about attestation: it
# uses Debian's python3-boto3 with endpoint_url pointed at enclave-agent's
# local KMS endpoint (enclave-agent init --kms-listen 127.0.0.1:8010), which
# adds Recipient to each request and opens the answer inside the enclave.
#
# It gets a data key, decrypts a stored secret, and prints only hashes:
# never a key or the secret itself (stdout goes to the parent's log).
#
# Environment:
#   AWS_KMS_ENDPOINT  the agent's local endpoint; else ENCLAVE_AGENT_KMS_ENDPOINT,
#                     which enclave-agent init sets to the endpoint it listens
#                     on; else http://127.0.0.1:8010
#   KEY_ID            the KMS key pinned to this image (its key ARN; an alias
#                     is only as fixed as kms:UpdateAlias on it). Part of the
#                     image's configuration, never stored beside the blob.
#   SECRET_FILE       a CiphertextBlob to decrypt (the stored secret), made
#                     under KEY_ID
#   AWS_REGION        any region name (the agent talks to the real one)
import base64
import hashlib
import json
import os

import boto3
from botocore.config import Config


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def main():
    kms = boto3.client(
        "kms",
        endpoint_url=os.environ.get("AWS_KMS_ENDPOINT")
        or os.environ.get("ENCLAVE_AGENT_KMS_ENDPOINT")
        or "http://127.0.0.1:8010",
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        # The agent signs with its own credentials; these are placeholders
        # the SDK insists on (the endpoint listens on the enclave's loopback).
        aws_access_key_id="enclave-local",
        aws_secret_access_key="enclave-local",
        config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30),
    )
    dk = kms.generate_data_key(KeyId=os.environ["KEY_ID"], KeySpec="AES_256")
    # Decrypt names the key: the parent can replace the stored blob with one
    # under another key its role may use, and without KeyId KMS would
    # decrypt that (the agent's endpoint refuses Decrypt without KeyId).
    with open(os.environ["SECRET_FILE"], "rb") as f:
        secret = kms.decrypt(CiphertextBlob=f.read(), KeyId=os.environ["KEY_ID"])["Plaintext"]
    print(json.dumps({
        "data_key_sha256": sha256(dk["Plaintext"]),
        "data_key_blob": base64.b64encode(dk["CiphertextBlob"]).decode(),
        "secret_sha256": sha256(secret),
    }), flush=True)


if __name__ == "__main__":
    main()
