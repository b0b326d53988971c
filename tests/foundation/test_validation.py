"""Bad input to the public SDK methods: a ValidationError (a SoaLabError) before any change.

Each misuse found by hand has its own test; the table below holds one per class of fault
(a wrong type, a bool taken as a count, a trailing newline in a name, an out-of-range
number) over the public methods of every step. Every test checks that nothing was created:
no account, no workload, no Consul partition, no ECS service or task definition, no folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from soa_sdk import validate
from soa_sdk.errors import NotFound, SoaLabError, ValidationError
from soa_sdk.org_spec import AccountSpec

RUNTIME = "runtime-ecs"


@pytest.fixture(scope="module")
def built(lab: Any) -> Any:
    """Step 0 and the production runtime (with what it calls), in their declared state."""
    lab.org.ensure()
    lab.runtime.require(RUNTIME)
    lab.release.reset("inventory", RUNTIME)
    return lab


def _ecs(lab: Any) -> Any:
    return lab.org.session(RUNTIME).client("ecs")


def snapshot(lab: Any) -> dict[str, Any]:
    """What a misuse could have created: accounts, workloads, partitions, ECS, KV records."""
    ecs = _ecs(lab)
    _, keys = lab.consul.client.kv.get("soa-lab/", keys=True)
    return {
        "accounts": sorted(
            a["Name"] for a in lab.aws.client("organizations").list_accounts()["Accounts"]
        ),
        "workloads": sorted((w["id"], w.get("health_code")) for w in lab.workloads.list()),
        "partitions": sorted(p["Name"] for p in lab.consul.request("GET", "partitions")),
        "ecs services": sorted(ecs.list_services(cluster=RUNTIME)["serviceArns"]),
        "task definitions": sorted(ecs.list_task_definitions()["taskDefinitionArns"]),
        "kv": sorted(k for k in keys or [] if not k.startswith("soa-lab/telemetry")),
    }


def refused(lab: Any, call: Callable[[], Any], error: type[Exception], match: str) -> None:
    """``call`` raises ``error`` (a SoaLabError) matching ``match``, and changes nothing."""
    before = snapshot(lab)
    with pytest.raises(error, match=match) as raised:
        call()
    assert isinstance(raised.value, SoaLabError)
    assert snapshot(lab) == before


# -- the misuses found ----------------------------------------------------------------------
def test_a_session_duration_given_as_text(built: Any) -> None:
    refused(
        built,
        lambda: built.org.session(RUNTIME, duration_seconds="900"),
        ValidationError,
        "duration_seconds .* must be a whole number, not '900'",
    )


def test_add_account_none(built: Any) -> None:
    spec_before = built.org.spec
    refused(built, lambda: built.org.add_account(None), ValidationError, "Pass an AccountSpec")
    assert built.org.spec is spec_before


def test_an_account_name_with_a_trailing_newline(built: Any) -> None:
    account = AccountSpec("probe-nl\n", "probe-nl@soa-lab.example.com", "runtimes")
    refused(built, lambda: built.org.add_account(account), ValidationError, "account name")


def test_true_is_not_a_replica_count(built: Any) -> None:
    refused(
        built,
        lambda: built.observe.scale(RUNTIME, "store", "v1", True),
        ValidationError,
        "replicas must be a whole number, not True",
    )


def test_a_runtime_name_with_a_trailing_newline(built: Any, tmp_path: Path) -> None:
    root = built.extend.scratch_terraform(tmp_path)
    folders = sorted(p.name for p in root.iterdir())
    refused(
        built,
        lambda: built.extend.add_runtime("runtime-zz\n", "ecs", "us-west-2", terraform_root=root),
        ValidationError,
        "not a valid runtime",
    )
    assert sorted(p.name for p in root.iterdir()) == folders


def test_terraform_on_a_folder_outside_the_monorepo(built: Any) -> None:
    for folder in ("../notebooks", "no-such-folder", ""):
        refused(
            built, lambda f=folder: built.tf.apply(f), ValidationError, "Terraform folder|empty"
        )


def test_an_error_code_that_is_not_a_status(built: Any) -> None:
    refused(
        built,
        lambda: built.release.deploy("inventory", "v3", RUNTIME, error_code="abc"),
        ValidationError,
        "error_code",
    )


def test_a_missing_terraform_root(built: Any, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-terraform"
    refused(
        built,
        lambda: built.extend.add_runtime("runtime-zz", "ecs", "us-west-2", terraform_root=missing),
        ValidationError,
        "terraform_root .* does not exist",
    )
    assert not missing.exists()


def test_revoking_an_unknown_lease(built: Any) -> None:
    lease = f"{built.access.database.mount_point}/creds/readonly/no-such-lease"
    refused(built, lambda: built.access.revoke(lease), NotFound, "There is no lease")


@pytest.mark.parametrize(
    ("source", "destination", "named"),
    [("nope", "payments", "'nope'"), ("store", "nowhere", "'nowhere'")],
)
def test_is_allowed_with_an_unknown_service(
    built: Any, source: str, destination: str, named: str
) -> None:
    refused(
        built,
        lambda: built.runtime.is_allowed(RUNTIME, source, destination),
        ValidationError,
        f"no service.* named {named}",
    )
    with pytest.raises(ValidationError) as raised:
        built.runtime.is_allowed(RUNTIME, "store", "nosuch")
    # One noun, once: "the services of runtime-ecs are", not "the service of runtime-ecss".
    assert f"the services of {RUNTIME} are: " in str(raised.value), str(raised.value)


# -- one row per class of fault, over the public methods ------------------------------------
MISUSES: list[tuple[str, Callable[[Any, Path], Any], str]] = [
    # a wrong type
    ("org.sessions", lambda lab, _: lab.org.sessions(duration_seconds=900.5), "whole number"),
    ("tf.apply", lambda lab, _: lab.tf.apply(3), "folder .* must be a string"),
    ("runtime.spec", lambda lab, _: lab.runtime.spec(None), "must be a string"),
    ("runtime.create", lambda lab, _: lab.runtime.create(spec="runtime-ecs"), "RuntimeSpec"),
    ("runtime.require", lambda lab, _: lab.runtime.require(3), "must be a string"),
    ("runtime.call", lambda lab, _: lab.runtime.call(RUNTIME, path=3), "path"),
    ("observe.search_logs", lambda lab, _: lab.observe.search_logs(RUNTIME, limit="5"), "limit"),
    ("observe.metrics", lambda lab, _: lab.observe.metrics("store", period="10"), "period"),
    (
        "observe.who_did_what",
        lambda lab, _: lab.observe.who_did_what(max_events="3"),
        "max_events",
    ),
    (
        "release.deploy",
        lambda lab, _: lab.release.deploy("inventory", "v3", RUNTIME, latency_ms=20),
        "latency_ms",
    ),
    ("release.traffic", lambda lab, _: lab.release.traffic(RUNTIME, rate="fast"), "rate"),
    (
        "release.canary",
        lambda lab, _: lab.release.canary("inventory", "v3", RUNTIME, plan={"weights": [100]}),
        "ReleasePlan",
    ),
    ("access.run_queries", lambda lab, _: lab.access.run_queries(None, "select 1"), "queries"),
    (
        "extend.add_runtime",
        lambda lab, root: lab.extend.add_runtime(
            "runtime-zz", "ecs", "us-west-2", services="payments", terraform_root=root
        ),
        "services must be a list",
    ),
    # a bool taken as a number
    (
        "observe.stop_instance",
        lambda lab, _: lab.observe.stop_instance(RUNTIME, "store", False),
        "index",
    ),
    (
        "observe.drive_traffic",
        lambda lab, _: lab.observe.drive_traffic(RUNTIME, requests=True),
        "requests",
    ),
    (
        "release.deploy",
        lambda lab, _: lab.release.deploy("inventory", "v3", RUNTIME, error_rate=True),
        "error_rate",
    ),
    ("release.serving", lambda lab, _: lab.release.serving("inventory", RUNTIME, True), "requests"),
    ("org.session", lambda lab, _: lab.org.session(RUNTIME, True), "duration_seconds"),
    # a trailing newline in a name
    (
        "extend.add_runtime",
        lambda lab, root: lab.extend.add_runtime(
            "runtime-zz", "ecs", "us-west-2", account="probe-nl\n", terraform_root=root
        ),
        "account name",
    ),
    (
        "extend.add_runtime",
        lambda lab, root: lab.extend.add_runtime(
            "runtime-zz", "ecs", "us-west-2", services=["payments\n"], terraform_root=root
        ),
        "service name",
    ),
    (
        "extend.remove_runtime",
        lambda lab, _: lab.extend.remove_runtime("runtime-zz\n"),
        "runtime name",
    ),
    ("release.deploy", lambda lab, _: lab.release.deploy("inventory", "v3\n", RUNTIME), "version"),
    # reads that answered None ("nothing there") for a name that cannot exist
    ("runtime.record", lambda lab, _: lab.runtime.record("runtime-ecs\n"), "runtime name"),
    ("runtime.ingress_url", lambda lab, _: lab.runtime.ingress_url("ecs"), "runtime name"),
    ("release.active", lambda lab, _: lab.release.active("inventory\n", RUNTIME), "service name"),
    (
        "extend.failover_resolver",
        lambda lab, _: lab.extend.failover_resolver(None, "default"),
        "service name",
    ),
    (
        "extend.failover_resolver",
        lambda lab, _: lab.extend.failover_resolver("payments", "default\n"),
        "partition name",
    ),
    ("runtime.mesh_spec_with", lambda lab, _: lab.runtime.mesh_spec_with(None), "RuntimeSpec"),
    ("org.guardrails", lambda lab, _: lab.org.guardrails(region=3.5), "region"),
    (
        "observe.clear_fault",
        lambda lab, _: lab.observe.clear_fault("payments", version="v1\n"),
        "no version",
    ),
    # out of range
    ("observe.scale", lambda lab, _: lab.observe.scale(RUNTIME, "store", "v1", 11), "0 to 10"),
    (
        "release.deploy",
        lambda lab, _: lab.release.deploy("inventory", "v3", RUNTIME, error_code=200),
        "400 to 599",
    ),
    (
        "observe.create_error_alarm",
        lambda lab, _: lab.observe.create_error_alarm("store", threshold_percent=0),
        "threshold_percent",
    ),
    ("release.shares", lambda lab, _: lab.release.shares(None), "ReleaseResult"),
]


@pytest.mark.parametrize(
    ("method", "call", "match"), MISUSES, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(MISUSES)]
)
def test_misuse_is_refused_before_any_change(
    built: Any, tmp_path: Path, method: str, call: Callable[[Any, Path], Any], match: str
) -> None:
    root = built.extend.scratch_terraform(tmp_path)
    folders = sorted(p.name for p in root.iterdir())
    refused(built, lambda: call(built, root), ValidationError, match)
    assert sorted(p.name for p in root.iterdir()) == folders


# -- the layer itself (no sandbox) ----------------------------------------------------------
@pytest.mark.parametrize(
    "value", ["runtime-a\n", "runtime-a ", " runtime-a", None, 3, b"runtime-a"]
)
def test_names_match_in_full(value: object) -> None:
    assert not validate.RUNTIME.matches(value)
    with pytest.raises(ValidationError, match="not a valid runtime name"):
        validate.RUNTIME.check(value)


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None])
def test_a_whole_number_is_an_int_and_never_a_bool(value: object) -> None:
    with pytest.raises(ValidationError, match="must be a whole number"):
        validate.whole(value, "count", 0, 10)


def test_ranges_and_folders(tmp_path: Path) -> None:
    assert validate.whole(3, "count", 0, 10) == 3
    with pytest.raises(ValidationError, match="from 0 to 10 seconds; 11 is out of range"):
        validate.whole(11, "count", 0, 10, " seconds")
    assert validate.number(0.5, "rate", 0, 1) == 0.5
    with pytest.raises(ValidationError, match="must be a number"):
        validate.number(float("nan"), "rate", 0, 1)
    assert validate.folder(str(tmp_path), "root") == tmp_path
    with pytest.raises(ValidationError, match="does not exist"):
        validate.folder(tmp_path / "nope", "root")
    with pytest.raises(ValidationError, match="not a folder"):
        (tmp_path / "file").write_text("")
        validate.folder(tmp_path / "file", "root")
    with pytest.raises(ValidationError, match="must be a list of strings"):
        validate.names("payments", "services")
