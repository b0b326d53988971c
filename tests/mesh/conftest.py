"""Fixtures for the mesh tests: an environment (see mesh_envs.py) per kind, shared by a module."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest
from mesh_envs import BackendEnv, ConsulEnv, MemoryEnv


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


@pytest.fixture(scope="module", params=["memory", "backend", "consul"])
def env_factory(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "backend" and not _available("soa_sdk.sandbox.consul.models"):
        pytest.skip("the Consul backend (soa_sdk.sandbox.consul.models) is not there yet")
    if request.param == "consul" and not _available("soa_sdk.sandbox.consul.__main__"):
        pytest.skip("the Consul emulator's server (soa_sdk.sandbox.consul) is not there yet")
    kinds = {"memory": MemoryEnv, "backend": BackendEnv, "consul": ConsulEnv}
    env = kinds[request.param]()
    try:
        yield env
    finally:
        env.close()


#: A ``* -> *`` allow, as an operator of a default-deny Consul opens a demo mesh.
ALLOW_ALL = {
    "Kind": "service-intentions",
    "Name": "*",
    "Sources": [{"Name": "*", "Action": "allow"}],
}


@pytest.fixture
def env(env_factory: Any) -> Iterator[Any]:
    """The module's environment. The consul one runs with ACLs on and default deny, so no
    call passes without an intention (as in Consul): tests that are not about intentions get
    :data:`ALLOW_ALL`; intention tests delete it first."""
    if env_factory.name == "consul":
        env_factory.put_config(dict(ALLOW_ALL))
    try:
        yield env_factory
    finally:
        env_factory.reset()
