"""CloudTrail event history of the sandbox AWS server, read back with boto3 `lookup_events`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from trail_lookup import lookup_events

SECRET = "correct-horse-battery-staple"


def record(event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(event["CloudTrailEvent"])


def test_calls_land_in_the_account_that_made_them(aws: Any, member: Any) -> None:
    aws.client("s3").create_bucket(Bucket="management-logs")
    aws.client("s3", **member.keys).create_bucket(Bucket="runtime-ecs-artifacts")

    mgmt = lookup_events(aws.client("cloudtrail"), "EventName", "CreateBucket")
    assert [e["Resources"] for e in mgmt] == [
        [{"ResourceType": "AWS::S3::Bucket", "ResourceName": "management-logs"}]
    ]
    # The sandbox's root keys are its administrator's, an IAM user (IAM is enforced).
    assert record(mgmt[0])["userIdentity"]["type"] == "IAMUser"
    assert record(mgmt[0])["recipientAccountId"] == aws.management_account

    ct = aws.client("cloudtrail", **member.keys)
    theirs = lookup_events(ct, "EventName", "CreateBucket")
    assert len(theirs) == 1
    event = theirs[0]
    assert event["Username"] == member.session_name
    assert event["AccessKeyId"] == member.keys["aws_access_key_id"]
    rec = record(event)
    ident = rec["userIdentity"]
    role_arn = f"arn:aws:iam::{member.account_id}:role/OrganizationAccountAccessRole"
    assert ident["type"] == "AssumedRole"
    assert ident["accountId"] == rec["recipientAccountId"] == member.account_id
    assert ident["arn"] == (
        f"arn:aws:sts::{member.account_id}:assumed-role/OrganizationAccountAccessRole/alice"
    )
    assert ident["principalId"].endswith(":alice")
    assert ident["sessionContext"]["sessionIssuer"]["arn"] == role_arn
    assert rec["eventSource"] == event["EventSource"] == "s3.amazonaws.com"
    assert rec["requestParameters"]["bucketName"] == "runtime-ecs-artifacts"
    assert rec["eventType"] == "AwsApiCall" and rec["managementEvent"] is True

    # The cross-account AssumeRole shows in both accounts, as in AWS.
    assumed_here = lookup_events(aws.client("cloudtrail"), "EventName", "AssumeRole")
    assumed_there = lookup_events(ct, "EventName", "AssumeRole")
    assert [record(e)["userIdentity"]["type"] for e in assumed_here] == ["IAMUser"]
    assert [record(e)["userIdentity"]["type"] for e in assumed_there] == ["AWSAccount"]
    assert record(assumed_there[0])["userIdentity"]["accountId"] == aws.management_account


def test_lookup_attributes_filter(aws: Any, member: Any) -> None:
    logs = aws.client("logs", "eu-central-1")
    logs.create_log_group(logGroupName="/soa/filter-test")
    logs.describe_log_groups()
    ct = aws.client("cloudtrail", "eu-central-1")

    by_resource = lookup_events(ct, "ResourceName", "/soa/filter-test")
    assert [e["EventName"] for e in by_resource] == ["CreateLogGroup"]
    assert by_resource[0]["Resources"] == [
        {"ResourceType": "AWS::Logs::LogGroup", "ResourceName": "/soa/filter-test"}
    ]
    by_source = lookup_events(ct, "EventSource", "logs.amazonaws.com")
    assert {e["EventName"] for e in by_source} == {"CreateLogGroup", "DescribeLogGroups"}
    reads = lookup_events(ct, "ReadOnly", "true")
    writes = lookup_events(ct, "ReadOnly", "false")
    assert "DescribeLogGroups" in {e["EventName"] for e in reads}
    assert {e["EventName"] for e in writes} == {"CreateLogGroup"}
    assert all(e["ReadOnly"] == "true" for e in reads)
    assert [e["EventName"] for e in lookup_events(ct, "Username", "soa-lab-admin")].count(
        "CreateLogGroup"
    ) == 1
    assert lookup_events(ct, "Username", member.session_name) == []
    by_id = lookup_events(ct, "EventId", by_resource[0]["EventId"])
    assert [e["EventId"] for e in by_id] == [by_resource[0]["EventId"]]
    # Events are kept per Region: none of these calls shows in us-east-1.
    assert lookup_events(aws.client("cloudtrail"), "ResourceName", "/soa/filter-test") == []


def test_time_range_and_newest_first(aws: Any) -> None:
    ssm = aws.client("ssm", "ap-southeast-2")
    ct = aws.client("cloudtrail", "ap-southeast-2")
    ssm.put_parameter(Name="/soa/first", Value="1", Type="String")
    time.sleep(1.1)  # not a timing check: puts the second event in a later whole second
    boundary = datetime.now(UTC)  # a fraction: the window starts at its whole second
    ssm.put_parameter(Name="/soa/second", Value="2", Type="String")

    both = lookup_events(ct, "EventName", "PutParameter")
    assert [e["Resources"][0]["ResourceName"] for e in both] == ["/soa/second", "/soa/first"]
    first_time = both[1]["EventTime"]
    after = lookup_events(ct, "EventName", "PutParameter", StartTime=boundary)
    assert [e["Resources"][0]["ResourceName"] for e in after] == ["/soa/second"]
    before = lookup_events(ct, "EventName", "PutParameter", EndTime=first_time)
    assert [e["Resources"][0]["ResourceName"] for e in before] == ["/soa/first"]
    window = lookup_events(
        ct, "EventName", "PutParameter", StartTime=first_time, EndTime=first_time
    )
    assert [e["EventId"] for e in window] == [both[1]["EventId"]]  # both ends are inclusive

    with pytest.raises(ClientError) as err:
        ct.lookup_events(StartTime=boundary, EndTime=boundary - timedelta(hours=1))
    assert err.value.response["Error"]["Code"] == "InvalidTimeRangeException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_fractional_window_is_compared_at_whole_seconds(aws: Any) -> None:
    """Event times are whole seconds: an event is "at" any time within its second."""
    ssm = aws.client("ssm", "ca-central-1")
    ct = aws.client("cloudtrail", "ca-central-1")
    ssm.put_parameter(Name="/soa/fraction", Value="1", Type="String")
    [event] = lookup_events(ct, "ResourceName", "/soa/fraction")
    at = event["EventTime"]
    assert at.microsecond == 0

    def found(**window: Any) -> list[str]:
        return [e["EventId"] for e in lookup_events(ct, "ResourceName", "/soa/fraction", **window)]

    late = at + timedelta(milliseconds=999)  # sent with its fraction by botocore
    assert found(StartTime=late) == [event["EventId"]]
    assert found(EndTime=late) == [event["EventId"]]
    assert found(StartTime=late, EndTime=late) == [event["EventId"]]
    assert found(StartTime=at.timestamp() + 0.5) == [event["EventId"]]  # a number, too
    assert found(StartTime=at + timedelta(seconds=1)) == []
    assert found(EndTime=at - timedelta(milliseconds=1)) == []


def test_pagination_yields_every_event_once(aws: Any) -> None:
    sqs = aws.client("sqs", "eu-west-1")
    for i in range(7):
        sqs.create_queue(QueueName=f"soa-page-{i}")
    ct = aws.client("cloudtrail", "eu-west-1")
    writes = [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}]
    full = ct.lookup_events(LookupAttributes=writes)
    assert "NextToken" not in full and len(full["Events"]) == 7

    pages, token = [], None
    while True:
        kw: dict[str, Any] = {"LookupAttributes": writes, "MaxResults": 2}
        if token:
            kw["NextToken"] = token
        page = ct.lookup_events(**kw)
        pages.append(page["Events"])
        sqs.create_queue(QueueName=f"soa-late-{len(pages)}")  # newer events do not shift pages
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    paged = [e["EventId"] for p in pages for e in p]
    assert paged == [e["EventId"] for e in full["Events"]]

    with pytest.raises(ClientError) as err:
        ct.lookup_events(LookupAttributes=writes, MaxResults=2, NextToken="not-a-token")
    assert err.value.response["Error"]["Code"] == "InvalidNextTokenException"
    first = ct.lookup_events(LookupAttributes=writes, MaxResults=2)["NextToken"]
    with pytest.raises(ClientError) as err:  # a token only works with the same parameters
        ct.lookup_events(MaxResults=2, NextToken=first)
    assert err.value.response["Error"]["Code"] == "InvalidNextTokenException"


def test_invalid_parameters_are_refused(aws: Any) -> None:
    ct = aws.client("cloudtrail")
    # boto3 would refuse MaxResults=0 itself: let the server see it.
    raw = boto3.client(
        "cloudtrail",
        endpoint_url=aws.url,
        region_name="us-east-1",
        config=Config(parameter_validation=False),
        **dict(aws.root_keys),
    )
    for bad in (0, 51):
        with pytest.raises(ClientError) as err:
            raw.lookup_events(MaxResults=bad)
        assert err.value.response["Error"]["Code"] == "InvalidMaxResultsException"
    with pytest.raises(ClientError) as err:
        ct.lookup_events(
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "CreateBucket"},
                {"AttributeKey": "Username", "AttributeValue": "soa-lab-admin"},
            ]
        )
    assert err.value.response["Error"]["Code"] == "InvalidLookupAttributesException"
    assert ct.lookup_events(EventCategory="insight")["Events"] == []


def test_secrets_are_hidden(aws: Any, member: Any) -> None:
    sm = aws.client("secretsmanager")
    sm.create_secret(Name="prod/db", SecretString=SECRET)
    creds = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member.account_id}:role/OrganizationAccountAccessRole",
        RoleSessionName="bob",
    )["Credentials"]

    ct = aws.client("cloudtrail")
    created = record(lookup_events(ct, "EventName", "CreateSecret")[0])
    assert created["requestParameters"]["name"] == "prod/db"
    assert created["requestParameters"]["secretString"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert created["responseElements"]["name"] == "prod/db"
    assumed = [record(e) for e in lookup_events(ct, "EventName", "AssumeRole")]
    bob = next(r for r in assumed if r["requestParameters"]["roleSessionName"] == "bob")
    shown = bob["responseElements"]["credentials"]
    assert shown["accessKeyId"] == creds["AccessKeyId"]
    assert shown["secretAccessKey"] == shown["sessionToken"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    everything = json.dumps([e["CloudTrailEvent"] for e in lookup_events(ct)])
    assert SECRET not in everything
    assert creds["SecretAccessKey"] not in everything
    assert creds["SessionToken"] not in everything


def test_failures_reads_and_what_is_not_recorded(aws: Any) -> None:
    eks = aws.client("eks")
    with pytest.raises(ClientError):
        eks.describe_cluster(name="no-such-cluster")
    ct = aws.client("cloudtrail")
    failed = lookup_events(ct, "ResourceName", "no-such-cluster")
    assert [e["EventName"] for e in failed] == ["DescribeCluster"]
    rec = record(failed[0])
    assert rec["errorCode"] == "ResourceNotFoundException"
    assert "no-such-cluster" in rec["errorMessage"]
    assert rec["responseElements"] is None and rec["readOnly"] is True

    # Organizations is recorded in us-east-1 whatever Region the client names.
    aws.client("organizations", "eu-west-3").list_roots()
    assert len(lookup_events(ct, "EventName", "ListRoots")) == 1

    # S3 object reads and writes are data events: not in the event history.
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="data-events")
    s3.put_object(Bucket="data-events", Key="k", Body=b"v")
    assert lookup_events(ct, "EventName", "PutObject") == []

    # LookupEvents itself is recorded as a read, after it answers; sandbox routes are not.
    before = len(lookup_events(ct, "EventName", "LookupEvents"))
    after = lookup_events(ct, "EventName", "LookupEvents")
    assert len(after) == before + 1 and after[0]["ReadOnly"] == "true"
    assert not any(e["EventSource"] == "moto-api" for e in lookup_events(ct))


def test_iam_user_keys_are_recorded_as_that_user(aws: Any) -> None:
    iam = aws.client("iam")
    iam.create_user(UserName="carol")
    # IAM is enforced: carol needs a policy for what she does below.
    iam.attach_user_policy(
        UserName="carol", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    keys = {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }
    aws.client("ecs", "us-west-2", **keys).create_cluster(clusterName="runtime-ecs")

    ct = aws.client("cloudtrail", "us-west-2")
    made = lookup_events(ct, "Username", "carol")
    assert [e["EventName"] for e in made] == ["CreateCluster"]
    assert made[0]["AccessKeyId"] == key["AccessKeyId"]
    ident = record(made[0])["userIdentity"]
    assert ident["type"] == "IAMUser" and ident["userName"] == "carol"
    assert ident["arn"] == f"arn:aws:iam::{aws.management_account}:user/carol"
    # IAM is global: its events are in us-east-1, with the new key hidden in the response.
    created = record(lookup_events(aws.client("cloudtrail"), "EventName", "CreateAccessKey")[0])
    assert created["awsRegion"] == "us-east-1"
    assert key["SecretAccessKey"] not in json.dumps(created)
