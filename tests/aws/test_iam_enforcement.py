"""IAM policies are enforced: nobody gets in where AWS would refuse (issue 12, item 2b).

The server (tests/aws/conftest.py) starts with its administrator (the root keys, an IAM user
with AdministratorAccess) and Boundary's writer (an IAM user without policies). The
recordings bucket gets the policy Terraform declares (soa_sdk.access.recordings_policy).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from trail_lookup import lookup_events

from soa_sdk.access import recordings_policy
from soa_sdk.access.step import RECORDING_BUCKET

RECORDING = "sessions/s_1234567890/recording.jsonl"
ALICE_SQL = b'{"format": "soa-lab-session-recording"}\n{"data": "U0VMRUNUIDE="}\n'
TASK_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
S3_READ_ALL = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def _keys(credentials: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def _user(aws: Any, name: str, *policies: str) -> dict[str, str]:
    iam = aws.client("iam")
    iam.create_user(UserName=name)
    for arn in policies:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def _role(client: Any, sts: Any, name: str, account: str, *policies: str) -> dict[str, str]:
    """A role trusting its account, with ``policies``, assumed through ``sts``."""
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
    client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    for arn in policies:
        client.attach_role_policy(RoleName=name, PolicyArn=arn)
    arn = f"arn:aws:iam::{account}:role/{name}"
    return _keys(sts.assume_role(RoleArn=arn, RoleSessionName="test")["Credentials"])


def _refused(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


@pytest.fixture(scope="module")
def nobody(aws: Any) -> dict[str, str]:
    return _user(aws, "nobody")


@pytest.fixture(scope="module")
def recordings(aws: Any) -> str:
    """The recordings bucket with its policy and a recording Boundary wrote. The auditor's ARN."""
    aws.client("s3").create_bucket(Bucket=RECORDING_BUCKET)
    session = boto3.Session(region_name="us-east-1", **dict(aws.root_keys))
    original = session.client

    def client(service: str, **kw: Any) -> Any:
        return original(service, endpoint_url=aws.url, **kw)

    session.client = client  # type: ignore[method-assign]
    auditor = recordings_policy.apply(session, RECORDING_BUCKET)
    aws.client("s3", **dict(aws.boundary_keys)).put_object(
        Bucket=RECORDING_BUCKET, Key=RECORDING, Body=ALICE_SQL
    )
    return auditor


def test_a_user_without_policies_is_refused_with_aws_errors(
    aws: Any, nobody: dict[str, str]
) -> None:
    aws.client("s3").create_bucket(Bucket="management-notes")
    aws.client("s3").put_object(Bucket="management-notes", Key="k", Body=b"secret")

    org = _refused(lambda: aws.client("organizations", **nobody).list_accounts())
    assert org["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert org["Error"]["Code"] == "AccessDeniedException"
    assert org["Error"]["Message"] == (
        "User: arn:aws:iam::123456789012:user/nobody is not authorized to perform: "
        "organizations:ListAccounts because no identity-based policy allows the "
        "organizations:ListAccounts action"
    )
    s3 = _refused(lambda: aws.client("s3", **nobody).get_object(Bucket="management-notes", Key="k"))
    assert s3["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert s3["Error"] == {"Code": "AccessDenied", "Message": "Access Denied"}
    iam = _refused(lambda: aws.client("iam", **nobody).create_user(UserName="impostor"))
    assert (iam["ResponseMetadata"]["HTTPStatusCode"], iam["Error"]["Code"]) == (
        403,
        "AccessDenied",
    )
    ec2 = _refused(lambda: aws.client("ec2", **nobody).describe_vpcs())
    assert ec2["Error"]["Code"] == "UnauthorizedOperation"


def test_presigned_urls_are_authorized_too(aws: Any, nobody: dict[str, str]) -> None:
    import requests

    aws.client("s3").create_bucket(Bucket="presigned-notes")
    aws.client("s3").put_object(Bucket="presigned-notes", Key="k", Body=b"secret")
    v4 = Config(signature_version="s3v4")
    params = {"Bucket": "presigned-notes", "Key": "k"}
    admin_url = aws.client("s3", config=v4).generate_presigned_url("get_object", Params=params)
    nobody_url = aws.client("s3", config=v4, **nobody).generate_presigned_url(
        "get_object", Params=params
    )
    assert requests.get(admin_url, timeout=10).content == b"secret"
    refused = requests.get(nobody_url, timeout=10)
    assert refused.status_code == 403 and b"<Code>AccessDenied</Code>" in refused.content


def test_nothing_changes_on_refusal(aws: Any, nobody: dict[str, str]) -> None:
    aws.client("s3").create_bucket(Bucket="unchanged")
    aws.client("s3").put_object(Bucket="unchanged", Key="k", Body=b"original")
    _refused(lambda: aws.client("s3", **nobody).put_object(Bucket="unchanged", Key="k", Body=b"x"))
    _refused(lambda: aws.client("s3", **nobody).delete_object(Bucket="unchanged", Key="k"))
    _refused(lambda: aws.client("iam", **nobody).create_user(UserName="impostor"))
    _refused(
        lambda: aws.client("organizations", **nobody).create_organizational_unit(
            ParentId="r-none", Name="impostors"
        )
    )
    body = aws.client("s3").get_object(Bucket="unchanged", Key="k")["Body"].read()
    assert body == b"original"
    users = [u["UserName"] for u in aws.client("iam").list_users()["Users"]]
    assert "impostor" not in users


def test_the_member_account_role_can_do_what_administrator_access_allows(
    aws: Any, member: Any
) -> None:
    iam = aws.client("iam", **member.keys)
    attached = iam.list_attached_role_policies(RoleName="OrganizationAccountAccessRole")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == ["AdministratorAccess"]
    vpc = aws.client("ec2", **member.keys).create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]
    assert vpc["OwnerId"] == member.account_id
    assert aws.client("ecs", **member.keys).create_cluster(clusterName="runtime-ecs")["cluster"]
    iam.create_role(
        RoleName="made-by-the-member",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    who = aws.client("sts", **member.keys).get_caller_identity()
    assert who["Arn"].startswith(
        f"arn:aws:sts::{member.account_id}:assumed-role/OrganizationAccountAccessRole/"
    )


def test_root_keys_are_the_administrator_user(aws: Any) -> None:
    # Acceptable: an SSO administrator's keys answer a role session, not the account root.
    assert aws.client("sts").get_caller_identity()["Arn"] == (
        "arn:aws:iam::123456789012:user/soa-lab-admin"
    )


def test_the_auditor_reads_recordings(aws: Any, recordings: str) -> None:
    creds = aws.client("sts").assume_role(RoleArn=recordings, RoleSessionName="audit")[
        "Credentials"
    ]
    s3 = aws.client("s3", **_keys(creds))
    assert s3.get_object(Bucket=RECORDING_BUCKET, Key=RECORDING)["Body"].read() == ALICE_SQL
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=RECORDING_BUCKET)["Contents"]] == [
        RECORDING
    ]
    # Reading is all the auditor may do.
    _refused(lambda: s3.put_object(Bucket=RECORDING_BUCKET, Key=RECORDING, Body=b"forged"))


def test_boundary_writes_and_downloads_but_deletes_nothing(aws: Any, recordings: str) -> None:
    s3 = aws.client("s3", **dict(aws.boundary_keys))
    s3.head_bucket(Bucket=RECORDING_BUCKET)
    assert s3.get_object(Bucket=RECORDING_BUCKET, Key=RECORDING)["Body"].read() == ALICE_SQL
    _refused(lambda: s3.delete_object(Bucket=RECORDING_BUCKET, Key=RECORDING))
    # Outside the recordings bucket it has no permission at all.
    _refused(lambda: s3.list_buckets())


def test_a_runtime_role_cannot_read_recordings(aws: Any, member: Any, recordings: str) -> None:
    # The ECS execution role with its declared policy, in the management account...
    here = _role(
        aws.client("iam"),
        aws.client("sts"),
        "runtime-ecs-exec",
        "123456789012",
        TASK_EXECUTION_POLICY,
    )
    response = _refused(
        lambda: aws.client("s3", **here).get_object(Bucket=RECORDING_BUCKET, Key=RECORDING)
    )
    assert response["Error"]["Code"] == "AccessDenied"
    # ... and in a runtime account, even with a policy that reads every bucket.
    there = _role(
        aws.client("iam", **member.keys),
        aws.client("sts", **member.keys),
        "runtime-ecs-reader",
        member.account_id,
        S3_READ_ALL,
    )
    response = _refused(
        lambda: aws.client("s3", **there).get_object(Bucket=RECORDING_BUCKET, Key=RECORDING)
    )
    assert response["Error"]["Code"] == "AccessDenied"
    # The member account's administrator role cannot either.
    _refused(
        lambda: aws.client("s3", **member.keys).get_object(Bucket=RECORDING_BUCKET, Key=RECORDING)
    )


def test_alice_bob_and_the_administrator_cannot_read_recordings(aws: Any, recordings: str) -> None:
    alice = _user(aws, "alice", S3_READ_ALL)
    bob = _user(aws, "bob")
    for keys in (alice, bob, dict(aws.root_keys)):
        s3 = aws.client("s3", **keys)
        response = _refused(lambda s3=s3: s3.get_object(Bucket=RECORDING_BUCKET, Key=RECORDING))
        assert response["Error"] == {"Code": "AccessDenied", "Message": "Access Denied"}
        _refused(lambda s3=s3: s3.list_objects_v2(Bucket=RECORDING_BUCKET))
    # alice may read other buckets: only the recordings bucket's policy refuses her.
    aws.client("s3").create_bucket(Bucket="team-notes")
    aws.client("s3").put_object(Bucket="team-notes", Key="k", Body=b"ok")
    assert (
        aws.client("s3", **alice).get_object(Bucket="team-notes", Key="k")["Body"].read() == b"ok"
    )
    # The administrator can still manage the bucket's policy, as in AWS.
    assert aws.client("s3").get_bucket_policy(Bucket=RECORDING_BUCKET)["Policy"]


def test_the_policy_is_terraforms_template() -> None:
    policy = recordings_policy.render("b", "arn:aws:iam::1:user/w", "arn:aws:iam::1:role/a")
    deny = policy["Statement"][-1]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        "arn:aws:iam::1:user/w",
        "arn:aws:iam::1:role/a",
    ]


def test_lookup_events_needs_an_identity_policy_that_allows_it(
    aws: Any, nobody: dict[str, str], member: Any
) -> None:
    reader = _user(aws, "trail-reader")
    aws.client("iam").put_user_policy(
        UserName="trail-reader",
        PolicyName="lookup-events",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}
                ],
            }
        ),
    )
    admin = aws.client("cloudtrail")
    created = [e["EventId"] for e in lookup_events(admin, "EventName", "CreateUser")]
    assert created, "the administrator reads the trail"

    refused = _refused(lambda: aws.client("cloudtrail", **nobody).lookup_events())
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused["Error"]["Code"] == "AccessDeniedException"
    assert refused["Error"]["Message"] == (
        "User: arn:aws:iam::123456789012:user/nobody is not authorized to perform: "
        "cloudtrail:LookupEvents because no identity-based policy allows the "
        "cloudtrail:LookupEvents action"
    )
    assert "Events" not in refused
    # The refusal disclosed and changed nothing; it is recorded as AWS records denied calls.
    assert [e["EventId"] for e in lookup_events(admin, "EventName", "CreateUser")] == created
    mine = [
        e for e in lookup_events(admin, "Username", "nobody") if e["EventName"] == "LookupEvents"
    ]
    assert [json.loads(e["CloudTrailEvent"])["errorCode"] for e in mine] == [
        "AccessDeniedException"
    ]

    ct = aws.client("cloudtrail", **reader)
    assert [e["EventId"] for e in lookup_events(ct, "EventName", "CreateUser")] == created
    # LookupEvents is all it may do in CloudTrail.
    _refused(lambda: ct.describe_trails())

    # A member account's administrator role reads its own account's trail only.
    theirs = aws.client("cloudtrail", **member.keys)
    assert lookup_events(theirs, "EventName", "CreateUser") == []
    assert {
        json.loads(e["CloudTrailEvent"])["recipientAccountId"]
        for e in theirs.lookup_events()["Events"]
    } == {member.account_id}
