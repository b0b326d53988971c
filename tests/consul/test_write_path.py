"""The backend's one write path: one commit and one notification per operation, nested
writes included; a write that changes nothing commits nothing; output-only check results
stamp nothing (see ``soa_sdk.sandbox.consul.state.health``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soa_sdk.sandbox.consul import ConsulBackend


@pytest.fixture
def backend() -> Iterator[ConsulBackend]:
    b = ConsulBackend(acl_enabled=False)
    yield b
    b.close()


def test_intention_moved_to_another_destination_is_one_commit(backend: ConsulBackend) -> None:
    intention_id = backend.intention_create(
        {"SourceName": "web", "DestinationName": "api", "Action": "allow"}
    )
    seen: list[int] = []
    backend.subscribe(seen.append)
    before = backend.index
    backend.intention_update(intention_id, {"DestinationName": "db"})
    assert backend.index == before + 1
    assert seen == [backend.index]
    assert backend.get_config_entry("service-intentions", "api") is None
    moved = backend.get_config_entry("service-intentions", "db")
    assert moved is not None and moved["ModifyIndex"] == backend.index


def test_a_write_that_changes_nothing_commits_nothing(backend: ConsulBackend) -> None:
    seen: list[int] = []
    backend.subscribe(seen.append)
    assert backend.kv_put("k", b"v")
    before = backend.index
    assert not backend.kv_put("k", b"w", cas=before + 100)
    backend.config_delete("service-defaults", "nothing-here")
    assert backend.index == before
    assert seen == [before]


def test_output_only_runner_result_stamps_nothing(backend: ConsulBackend) -> None:
    # a gRPC check is registered but never run, so only this test reports results for it
    backend.register_check({"Name": "g", "GRPC": "127.0.0.1:1", "Status": "passing"})
    key = ("default", backend.node_name, "g")
    before = backend.index
    backend._runner_report(key, "passing", "new output")  # what the check runner calls
    assert backend.index == before
    (check,) = [c for c in backend.health_node(backend.node_name) if c["CheckID"] == "g"]
    assert check["Output"] == "new output" and check["ModifyIndex"] == before
    backend._runner_report(key, "critical", "down")
    assert backend.index == before + 1
    (check,) = [c for c in backend.health_node(backend.node_name) if c["CheckID"] == "g"]
    assert check["Status"] == "critical" and check["ModifyIndex"] == backend.index
