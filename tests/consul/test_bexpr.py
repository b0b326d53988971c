"""go-bexpr filter expressions, used by ?filter= and by service-resolver subsets."""

from __future__ import annotations

import pytest

from soa_sdk.sandbox.consul.bexpr import BexprError, compile_filter

ENTRY = {
    "Service": {"Meta": {"version": "v2"}, "Tags": ["canary", "http"]},
    "ServiceMeta": {"version": "v1"},
    "Checks": [{"Status": "passing"}, {"Status": "critical"}],
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('Service.Meta.version == "v2"', True),
        ("Service.Meta.version != v2", False),
        ('Service.Tags contains "canary"', True),
        ('"http" in Service.Tags', True),
        ("blue not in Service.Tags", True),
        ("Service.Tags not contains http", False),
        ('ServiceMeta.version matches "^v[0-9]$"', True),
        ("Service.Meta is not empty", True),
        ("Service.Missing is empty", True),
        ('Service.Meta["version"] == v2 and not (ServiceMeta.version == v2)', True),
        ("ServiceMeta.version == v9 or Checks.Status == critical", True),
    ],
)
def test_expressions(expression: str, expected: bool) -> None:
    assert compile_filter(expression)(ENTRY) is expected


@pytest.mark.parametrize("bad", ["", "Service.Meta ==", "(a == b", "a === b", "a == b c"])
def test_syntax_errors(bad: str) -> None:
    with pytest.raises(BexprError):
        compile_filter(bad)
