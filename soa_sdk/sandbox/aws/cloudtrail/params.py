"""Turn the wire form of a request or response into CloudTrail's parameter dictionaries.

CloudTrail shows `requestParameters` and `responseElements` as JSON with lowerCamelCase
keys (`roleArn`, `roleSessionName`), whatever the wire protocol. We decode each protocol
generically, without the service model: query/ec2 form parameters are unflattened
(`Tags.member.1.Key` -> `tags: [{key: ...}]`), JSON and CBOR bodies are taken as they are,
REST calls give their path labels, query string and (rest-json) JSON body. S3's XML request
bodies and binary payloads are not recorded; REST-XML responses are recorded as null.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from typing import Any

from botocore.parsers import RpcV2CBORParser

_SKIP_FORM = {"Action", "Version"}
_LIST_MARKERS = {"member", "item", "entry"}
_USER_MAPS = {"tags", "tag", "environment", "variables", "labels"}
# S3 names its path labels this way in CloudTrail.
_S3_NAMES = {"Bucket": "bucketName", "Key": "key"}
_MAX_BODY = 256 * 1024


def lower_camel(value: Any) -> Any:
    """Keys in lowerCamelCase, recursively; user-defined maps (tags...) keep their keys."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = str(k)
            # CloudTrail lowers the first letter only (RDS shows `dBInstanceIdentifier`).
            new = key.lower() if key.isupper() else key[:1].lower() + key[1:]
            if key.lower() in _USER_MAPS and isinstance(v, dict):
                out[new] = v
            else:
                out[new] = lower_camel(v)
        return out
    if isinstance(value, list):
        return [lower_camel(v) for v in value]
    return value


def unflatten(form: dict[str, str]) -> dict[str, Any]:
    """Query-protocol parameters (`A.member.1.B=x`) as nested dicts and lists."""
    root: dict[str, Any] = {}
    for name, value in form.items():
        if name in _SKIP_FORM or name.startswith("X-Amz-") or name == "AWSAccessKeyId":
            continue
        parts = [p for p in name.split(".") if p not in _LIST_MARKERS]
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            key: Any = int(part) if part.isdigit() else part
            if isinstance(node, dict):
                if last:
                    node[key] = value
                else:
                    node = node.setdefault(key, {})
        # numbered dicts become lists below
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(isinstance(k, int) for k in node):
            return [_lists(node[k]) for k in sorted(node)]
        return {k: _lists(v) for k, v in node.items()}
    return node


def request_parameters(
    protocol: str,
    service: str,
    body: bytes,
    content_type: str,
    query: dict[str, str],
    form: dict[str, str],
    path_params: dict[str, str],
) -> dict[str, Any] | None:
    """CloudTrail's `requestParameters` (before redaction)."""
    params: dict[str, Any] | None
    if protocol in ("query", "ec2"):
        params = unflatten({**query, **form})
    elif protocol == "json":
        params = _json(body)
    elif protocol == "smithy-rpc-v2-cbor":
        params = _cbor(body)
    else:
        names = _S3_NAMES if service in ("s3", "s3control") else {}
        params = {names.get(k, k): v for k, v in path_params.items()}
        params.update({k: v for k, v in query.items() if not k.startswith("X-Amz-")})
        if protocol == "rest-json" and "json" in content_type:
            params.update(_json(body) or {})
    return lower_camel(params) if params else None


def response_elements(protocol: str, body: bytes, content_type: str) -> dict[str, Any] | None:
    """CloudTrail's `responseElements` for a successful write (before redaction)."""
    if not body or len(body) > _MAX_BODY:
        return None
    if protocol in ("json", "rest-json"):
        data = _json(body)
    elif protocol == "smithy-rpc-v2-cbor":
        data = _cbor(body)
    elif protocol in ("query", "ec2"):
        data = _query_xml(body)
    else:
        data = None
    return lower_camel(data) if data else None


def error_of(body: bytes, headers: dict[str, str]) -> tuple[str | None, str | None]:
    """(errorCode, errorMessage) of a failed call, from any protocol's error body."""
    code = headers.get("x-amzn-errortype", "").split(":")[0] or None
    message = None
    data = _json(body)
    if data:
        code = code or data.get("__type") or data.get("code") or data.get("Code")
        message = data.get("message") or data.get("Message")
    elif body[:1] == b"<":
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            root = None
        if root is not None:
            for el in root.iter():
                tag = el.tag.rsplit("}", 1)[-1]
                if tag == "Code" and code is None:
                    code = (el.text or "").strip()
                elif tag == "Message" and message is None:
                    message = (el.text or "").strip()
    if code and "#" in code:
        code = code.rsplit("#", 1)[1]
    return code, message


def _json(body: bytes) -> dict[str, Any] | None:
    if not body or len(body) > _MAX_BODY:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _cbor(body: bytes) -> dict[str, Any] | None:
    if not body or len(body) > _MAX_BODY:
        return None
    try:
        data = RpcV2CBORParser().parse_data_item(io.BufferedReader(io.BytesIO(body)))
    except Exception:
        return None
    return data if isinstance(data, dict) else None


def _query_xml(body: bytes) -> dict[str, Any] | None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    # <XResponse><XResult>...</XResult><ResponseMetadata/></XResponse>: keep the result.
    result = next(
        (c for c in root if c.tag.rsplit("}", 1)[-1].endswith("Result")),
        None,
    )
    if result is None:
        children = [c for c in root if not c.tag.endswith("ResponseMetadata")]
        if not children:
            return None
        result = root
    value = _xml_value(result)
    return value if isinstance(value, dict) else None


def _xml_value(el: ET.Element) -> Any:
    children = [c for c in el if not c.tag.endswith(("ResponseMetadata", "requestId"))]
    if not children:
        return (el.text or "").strip()
    tags = [c.tag.rsplit("}", 1)[-1] for c in children]
    if all(t in _LIST_MARKERS for t in tags):
        return [_xml_value(c) for c in children]
    out: dict[str, Any] = {}
    for tag, child in zip(tags, children, strict=True):
        out[tag] = _xml_value(child)
    return out
