"""No module of the SDK over 800 lines (issue 13; the style's "small modules with one
concern"). Generated protobuf modules (``*_pb2.py``, ``*_pb2_grpc.py``) are left out: nobody
edits them. Lines are counted as ``wc -l`` counts them."""

from __future__ import annotations

from pathlib import Path

import soa_sdk

ROOT = Path(soa_sdk.__file__).parent
LIMIT = 800


def _modules() -> list[Path]:
    return [
        path
        for path in sorted(ROOT.rglob("*.py"))
        if not path.name.endswith(("_pb2.py", "_pb2_grpc.py"))
    ]


def test_the_modules_are_read() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in _modules()}
    assert {"lab.py", "sandbox/connect/snapshot.py"} <= names


def test_no_module_over_800_lines() -> None:
    too_long = {
        path.relative_to(ROOT).as_posix(): lines
        for path in _modules()
        if (lines := path.read_bytes().count(b"\n")) > LIMIT
    }
    assert too_long == {}
