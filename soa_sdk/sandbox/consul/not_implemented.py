"""What the emulator leaves out, generated from the code.

Three sources: the route registry (``urls.ROUTES[*].missing`` and ``urls.UNROUTED``), and the
``Not implemented:`` paragraphs of the docstrings of the emulator's modules (the state
modules of :mod:`.state` included) and of :class:`~.models.ConsulBackend`'s methods.
``python -m soa_sdk.sandbox.consul --list-unimplemented`` prints the report.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

from . import acl, bexpr, checks, config_entries, jwt_auth, models, state
from .urls import ROUTES, UNROUTED

#: every module of :mod:`.state` (found, not listed), then the rest of the emulator
_STATE = tuple(
    importlib.import_module(f"{state.__name__}.{info.name}")
    for info in sorted(pkgutil.iter_modules(state.__path__), key=lambda i: i.name)
)
_MODULES = (models, *_STATE, config_entries, checks, acl, bexpr, jwt_auth)

_NOT_IMPL = re.compile(r"Not implemented:(.*?)(?:\n\s*\n|\Z)", re.DOTALL)


def _paragraphs(doc: str | None) -> list[str]:
    return [" ".join(m.group(1).split()) for m in _NOT_IMPL.finditer(inspect.cleandoc(doc or ""))]


def report() -> list[str]:
    """The report's lines."""
    lines = ["Consul endpoints the sandbox does not serve:"]
    lines += [f"  - {family}" for family in UNROUTED]
    lines.append("Parameters and fields ignored or refused by served endpoints:")
    for route in ROUTES:
        if route.missing:
            methods = ",".join(route.methods)
            lines.append(f"  - {methods} {route.path}: {', '.join(route.missing)}")
    lines.append("Behaviour not implemented (from the code's docstrings):")
    for module in _MODULES:
        name = module.__name__.removeprefix("soa_sdk.sandbox.consul.")
        for text in _paragraphs(module.__doc__):
            lines.append(f"  - {name}: {text}")
    for name, member in inspect.getmembers(models.ConsulBackend, inspect.isfunction):
        for text in _paragraphs(member.__doc__):
            lines.append(f"  - ConsulBackend.{name}: {text}")
    lines.append("Sandbox-only routes (not Consul):")
    lines += [f"  - {','.join(r.methods)} {r.path}" for r in ROUTES if r.sandbox_only]
    return lines


def main() -> None:
    print("\n".join(report()))
