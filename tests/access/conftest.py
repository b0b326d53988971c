"""Fixtures: step 4 set up on the session's sandbox, and tidy grants around each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soa_sdk.access import Access

ADMIN_TARGET = "prod-postgres-admin"
READONLY_TARGET = "prod-postgres-readonly"


@pytest.fixture(scope="session")
def access(lab) -> Access:
    """``lab.access`` with :meth:`~soa_sdk.access.Access.setup` run once."""
    lab.access.setup()
    return lab.access


@pytest.fixture
def fresh(access: Access) -> Iterator[Access]:
    """The same Access, with no user holding a grant before or after the test (so a test's
    grant never leaks into another test or into notebook 04)."""
    for user in access.spec.users:
        access.end_grants(user.name)
    yield access
    for user in access.spec.users:
        access.end_grants(user.name)
