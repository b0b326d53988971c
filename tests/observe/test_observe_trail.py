"""Who did what: CloudTrail LookupEvents across accounts, through ``lab.observe``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from soa_sdk.errors import NotFound, ValidationError

from .conftest import lookups_in_management

ROLE = "assumed-role/OrganizationAccountAccessRole/"


def test_runtime_creation_is_in_its_account_with_the_assumed_role(lab: Any, ecs: Any) -> None:
    table = lab.observe.who_did_what(accounts=["runtime-ecs"], event_name="CreateCluster")
    assert len(table) >= 1
    assert set(table.column("account")) == {"runtime-ecs"}
    assert set(table.column("account_id")) == {ecs.account_id}
    assert all(who.startswith(ROLE) for who in table.column("who"))
    assert set(table.column("source")) == {"ecs.amazonaws.com"}
    assert any("runtime-ecs" in r for r in table.column("resource"))
    # Nothing of the runtime was created in the management account.
    assert len(lab.observe.who_did_what(accounts=["management"], event_name="CreateCluster")) == 0


def test_across_accounts_newest_first_and_changes_only(lab: Any, ecs: Any) -> None:
    table = lab.observe.who_did_what(start=timedelta(hours=1), max_events=500)
    assert {"management", "runtime-ecs"} <= set(table.column("account"))
    times = table.column("time")
    assert times == sorted(times, reverse=True)
    assert not any(table.column("read_only"))
    # Entering a member account is an AssumeRole by the management account, seen in both.
    assumed = [r for r in table.rows if r["event"] == "AssumeRole"]
    assert {r["account"] for r in assumed} >= {"management", "runtime-ecs"}
    member_side = [r for r in assumed if r["account"] == "runtime-ecs"]
    assert member_side and member_side[0]["who"].startswith("account ")


def test_read_only_and_event_name_filters(lab: Any, ecs: Any) -> None:
    reads = lab.observe.who_did_what(accounts=["runtime-ecs"], read_only=True, max_events=100)
    assert len(reads) > 0 and all(reads.column("read_only"))
    both = lab.observe.who_did_what(accounts=["runtime-ecs"], read_only=None, max_events=2000)
    assert {True, False} == set(both.column("read_only"))
    # EventName goes to the API; a read/write filter is then applied to its answer.
    described = lab.observe.who_did_what(
        accounts=["runtime-ecs"], event_name="DescribeClusters", read_only=None
    )
    assert len(described) > 0 and set(described.column("event")) == {"DescribeClusters"}
    as_changes = lab.observe.who_did_what(
        accounts=["runtime-ecs"], event_name="DescribeClusters", read_only=False
    )
    assert len(as_changes) == 0


def test_pagination_returns_what_the_api_returns(lab: Any, ecs: Any) -> None:
    ssm = lab.org.session("runtime-ecs").client("ssm")
    for i in range(60):
        ssm.put_parameter(Name=f"/observe/page-{i}", Value=str(i), Type="String", Overwrite=True)
    table = lab.observe.who_did_what(
        accounts=["runtime-ecs"], event_name="PutParameter", max_events=55
    )
    assert len(table) == 55  # more than one page of 50
    client = lab.org.session("runtime-ecs").client("cloudtrail")
    events, token = [], None
    while True:
        kwargs: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "PutParameter"}]
        }
        if token:
            kwargs["NextToken"] = token
        page = client.lookup_events(**kwargs)
        events += page["Events"]
        token = page.get("NextToken")
        if not token:
            break
    assert len(events) >= 60
    names = [json.loads(e["CloudTrailEvent"])["requestParameters"]["name"] for e in events[:55]]
    assert [r["resource"] for r in table.rows] == names


def test_time_range_is_applied(lab: Any, ecs: Any) -> None:
    ssm = lab.org.session("runtime-ecs").client("ssm")
    ssm.put_parameter(Name="/observe/before", Value="1", Type="String", Overwrite=True)
    time.sleep(1.1)  # not a timing check: puts the next event in a later whole second
    boundary = datetime.now(UTC)  # a fraction: the window starts at its whole second
    ssm.put_parameter(Name="/observe/after", Value="2", Type="String", Overwrite=True)
    recent = lab.observe.who_did_what(
        accounts=["runtime-ecs"], event_name="PutParameter", start=boundary
    )
    assert recent.column("resource") == ["/observe/after"]
    older = lab.observe.who_did_what(
        accounts=["runtime-ecs"],
        event_name="PutParameter",
        start=boundary - timedelta(seconds=30),
        end=boundary - timedelta(seconds=1),
    )
    assert "/observe/before" in older.column("resource")
    assert "/observe/after" not in older.column("resource")


def test_an_event_in_the_same_second_as_start_is_included(lab: Any, ecs: Any) -> None:
    ssm = lab.org.session("runtime-ecs").client("ssm")
    ssm.put_parameter(Name="/observe/same-second", Value="1", Type="String", Overwrite=True)
    [row] = [
        r
        for r in lab.observe.who_did_what(accounts=["runtime-ecs"], event_name="PutParameter").rows
        if r["resource"] == "/observe/same-second"
    ]
    late = row["time"] + timedelta(milliseconds=999)  # same second, with a fraction
    table = lab.observe.who_did_what(
        accounts=["runtime-ecs"], event_name="PutParameter", start=late, end=late
    )
    assert "/observe/same-second" in table.column("resource")


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"accounts": ["no-such-account"]}, NotFound, "no-such-account"),
        ({"start": timedelta(hours=-2)}, ValidationError, "future"),
        (
            {"start": datetime.now(UTC) - timedelta(hours=1), "end": timedelta(hours=2)},
            ValidationError,
            "after it ends",
        ),
        ({"max_events": 0}, ValidationError, "max_events"),
    ],
)
def test_bad_input_is_refused_before_any_lookup(
    lab: Any, ecs: Any, kwargs: dict, error: type, words: str
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    before = lookups_in_management(lab, since)
    with pytest.raises(error, match=words):
        lab.observe.who_did_what(**kwargs)
    assert lookups_in_management(lab, since) == before + 1  # only the counting look-up
