# SPDX-License-Identifier: Apache-2.0
#
# An unmodified boto3 client, its retries as configured by default: it
# calls Decrypt on the local KMS endpoint CALLS times with the stored blob
# BLOB (base64), under the key KEY_ID, and prints, per call, the HTTP status and the error code
# (or 200 and "" on success) as JSON.
import base64, json, os, sys

import boto3
from botocore.exceptions import ClientError

kms = boto3.client("kms", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id="any", aws_secret_access_key="any")
blob = base64.b64decode(os.environ["BLOB"])
out = []
for _ in range(int(os.environ["CALLS"])):
    try:
        kms.decrypt(CiphertextBlob=blob, KeyId=os.environ["KEY_ID"])
        out.append({"status": 200, "code": ""})
    except ClientError as e:
        out.append({"status": e.response["ResponseMetadata"]["HTTPStatusCode"], "code": e.response["Error"]["Code"]})
json.dump(out, sys.stdout)
