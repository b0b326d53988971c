"""Fixtures of the release tests: the production ECS runtime of step 1, inventory on v1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

RUNTIME = "runtime-ecs"
SERVICE = "inventory"


@pytest.fixture(scope="module")
def ecs(lab: Any) -> Iterator[Any]:
    """The session's lab with runtime-ecs created and inventory back on its declared v1."""
    lab.org.require()
    lab.runtime.require(RUNTIME)
    lab.release.reset(SERVICE, RUNTIME)
    yield lab
    lab.release.reset(SERVICE, RUNTIME)
