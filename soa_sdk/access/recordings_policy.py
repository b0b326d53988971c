"""The recordings bucket's policy, from the template Terraform applies too.

``terraform/modules/session_recordings/bucket-policy.json.tftpl`` is the one source: Terraform
renders it with ``templatefile()``, :func:`render` with :class:`string.Template` (both read
``${name}``). Boundary's writer puts and downloads recordings, the auditors' role reads them,
an explicit Deny refuses every other principal, administrators included (they can still
replace the policy, as in AWS). :func:`apply` also creates the auditors' role the module
declares (trusting the bucket's account, as ``auditor_principal_arns = [account root]``).

Calls: STS ``GetCallerIdentity``, IAM ``GetRole``/``CreateRole``, S3 ``PutBucketPolicy``.
"""

from __future__ import annotations

import json
import string
from typing import Any

from soa_sdk.paths import terraform_root

TEMPLATE = ("modules", "session_recordings", "bucket-policy.json.tftpl")
AUDITOR_ROLE = "session-recordings-auditor"  # the module's default auditor_role_name
#: Boundary's writer in the sandbox (`soa_sdk.sandbox.aws.authorization.BOUNDARY_USER`).
SANDBOX_WRITER = "boundary-session-recordings"


def render(bucket: str, writer_arn: str, auditor_arn: str) -> dict[str, Any]:
    """The bucket policy for ``bucket``, as Terraform renders it."""
    text = terraform_root().joinpath(*TEMPLATE).read_text()
    rendered = string.Template(text).substitute(
        bucket_arn=f"arn:aws:s3:::{bucket}", writer_arn=writer_arn, auditor_arn=auditor_arn
    )
    return dict(json.loads(rendered))


def apply(session: Any, bucket: str, writer_arn: str | None = None) -> str:
    """Create the auditors' role if missing and put the bucket policy. Returns its ARN."""
    account = session.client("sts").get_caller_identity()["Account"]
    writer = writer_arn or f"arn:aws:iam::{account}:user/{SANDBOX_WRITER}"
    iam = session.client("iam")
    try:
        auditor = iam.get_role(RoleName=AUDITOR_ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        auditor = iam.create_role(
            RoleName=AUDITOR_ROLE,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=f"Reads Boundary's session recordings in {bucket}, nothing else.",
        )["Role"]["Arn"]
    policy = render(bucket, writer, auditor)
    session.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return str(auditor)
