"""What the aws provider's resources share: AWS error codes, policies as written, tags."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from soa_sdk.sandbox.providers.framework import (
    State,
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def missing(call: Callable[[], Any], *codes: str) -> Any:
    """``call()``, or None when AWS answers with one of ``codes`` (or 404)."""
    try:
        return call()
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if error_code(error) in codes or status == 404:
            return None
        raise


def same_json(a: str | None, b: str | None) -> bool:
    try:
        return json.loads(a or "null") == json.loads(b or "null")
    except ValueError:
        return a == b


def policy_as_written(state: State, key: str, from_api: str | None) -> str | None:
    """The API's policy, written as the state has it when they are the same document."""
    if isinstance(from_api, dict):
        from_api = json.dumps(from_api)
    return state.get(key) if same_json(state.get(key), from_api) else from_api


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict]:
    return [{key: k, value: v} for k, v in tags.items()]


def tag_dict(tags: list[dict] | None, key: str = "Key", value: str = "Value") -> dict:
    return {t[key]: t[value] for t in tags or []}


def timestamp(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def one(items: Any) -> dict[str, Any] | None:
    return items[0] if isinstance(items, list) and items else None


def drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}
