"""Every answer the emulator gives, checked against our schema of Boundary's swagger, and,
when ``SOA_LAB_BOUNDARY_SWAGGER`` points to a copy of ``controller.swagger.json``, against
the swagger itself."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from . import api_schema
from .conftest import Api


def _sweep(admin: Api, project: dict[str, str]) -> list[tuple[str, Any]]:
    """List every collection (recursively or by parent) and read every item listed."""
    admin.ok("POST", "/v1/groups", {"scope_id": project["org"], "name": "g"})
    hc = admin.ok("POST", "/v1/host-catalogs", {"scope_id": project["project"], "type": "static"})
    admin.ok("POST", "/v1/hosts", {"host_catalog_id": hc["id"], "type": "static",
                                   "attributes": {"address": "127.0.0.1"}})  # fmt: skip
    admin.ok("POST", "/v1/host-sets", {"host_catalog_id": hc["id"], "type": "static"})
    t = admin.ok(
        "POST",
        "/v1/targets",
        {"scope_id": project["project"], "name": "t", "type": "tcp", "address": "127.0.0.1:1"},
    )
    seen: list[tuple[str, Any]] = []
    auth = admin.ok("POST", f"/v1/targets/{t['id']}:authorize-session")
    seen.append((api_schema.R + "targets.v1.SessionAuthorization", auth["item"]))
    parents = {"accounts": ("auth_method_id", ["ampw_1234567890"]),
               "hosts": ("host_catalog_id", [hc["id"]]),
               "host-sets": ("host_catalog_id", [hc["id"]])}  # fmt: skip
    for collection, definition in api_schema.COLLECTIONS.items():
        if collection == "credential-libraries":
            continue  # needs a Vault; covered by test_brokering
        key, ids = parents.get(collection, ("scope_id", ["global"]))
        query = f"{key}={ids[0]}" + ("&recursive=true" if key == "scope_id" else "")
        listing = admin.ok("GET", f"/v1/{collection}?{query}")
        seen.append(("list", listing))
        for item in listing["items"]:
            seen.append((definition, item))
            seen.append((definition, admin.ok("GET", f"/v1/{collection}/{item['id']}")))
    return seen


def test_every_response_matches_our_schema(admin: Api, project):
    seen = _sweep(admin, project)
    kinds = {d for d, _ in seen}
    assert len(kinds) >= 12, kinds
    problems = [p for d, body in seen for p in api_schema.validate(body, d)]
    assert problems == []


def _swagger_problems(swagger: dict, definition: str, value: Any, path: str) -> list[str]:
    props = swagger["definitions"][definition].get("properties", {})
    out = []
    for key, item in value.items():
        prop = props.get(key)
        if prop is None:
            out.append(f"{path}.{key}: not in {definition}")
            continue
        if "$ref" in prop:
            out += _swagger_problems(swagger, prop["$ref"].split("/")[-1], item, f"{path}.{key}")
            continue
        typ = prop.get("type", "object")
        py = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list}[typ]
        if not isinstance(item, py) or (py is int and isinstance(item, bool)):
            out.append(f"{path}.{key}: {type(item).__name__} is not {typ}")
        elif typ == "array" and "$ref" in prop.get("items", {}):
            ref = prop["items"]["$ref"].split("/")[-1]
            for i, element in enumerate(item):
                out += _swagger_problems(swagger, ref, element, f"{path}.{key}[{i}]")
    return out


def test_responses_match_the_full_swagger(admin: Api, project):
    location = os.environ.get("SOA_LAB_BOUNDARY_SWAGGER")
    if not location:
        pytest.skip("SOA_LAB_BOUNDARY_SWAGGER is not set (path to Boundary's "
                    "internal/gen/controller.swagger.json)")  # fmt: skip
    swagger = json.loads(Path(location).read_text())
    list_def = "controller.api.services.v1.ListTargetsResponse"
    problems = []
    for definition, body in _sweep(admin, project):
        if definition == "list":  # the items are checked one by one under their own name
            body = {k: v for k, v in body.items() if k != "items"}
        name = list_def if definition == "list" else definition
        problems += _swagger_problems(swagger, name, body, "$")
    # Our compact schema agrees with the swagger on every field it lists.
    for name, fields in api_schema.SCHEMA.items():
        props = swagger["definitions"][name]["properties"]
        problems += [f"{name}.{f}: missing in swagger" for f in fields if f not in props]
    assert problems == []
