"""Which AWS operation a raw HTTP request calls, read from botocore's service models.

The wire protocols name the operation in different places:

- `json` (ECS, Organizations, Secrets Manager, CloudTrail...): `X-Amz-Target: Prefix.Operation`;
- `query` and `ec2` (STS, IAM, EC2, ELBv2...): the `Action` form or query parameter;
- `smithy-rpc-v2-cbor` (CloudWatch): the path `/service/<ServiceName>/operation/<Operation>`;
- `rest-json` / `rest-xml` (S3, EKS, Lambda, CloudFront...): the HTTP method and the path,
  matched against each operation's `http.requestUri` in the service model.

The service is the SigV4 signing name from the credential scope; several models may share
one signing name (`elasticloadbalancing` is ELB and ELBv2, `s3` is S3 and S3 Control), so
every candidate model is tried. Virtual-hosted-style S3 addressing (bucket in the Host) is
not resolved: the sandbox's clients use path-style URLs.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import botocore.session
from botocore.model import ServiceModel

# CloudTrail's readOnly flag follows the verb of the operation name.
_READ_PREFIXES = (
    "Get",
    "List",
    "Describe",
    "Head",
    "Lookup",
    "BatchGet",
    "Search",
    "Select",
    "Query",
    "Scan",
    "Check",
    "Test",
    "Validate",
    "Simulate",
    "Preview",
    "Estimate",
    "Filter",
    "Download",
    "View",
)

_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Operation:
    """An operation resolved from a request."""

    service: str  # botocore model name, e.g. "elbv2"
    name: str  # e.g. "CreateLoadBalancer"
    protocol: str
    path_params: dict[str, str] = field(default_factory=dict)

    @property
    def read_only(self) -> bool:
        return is_read_only(self.name)


def is_read_only(operation: str) -> bool:
    """CloudTrail's readOnly for an operation name (Get*/List*/Describe*/... are reads)."""
    return operation.startswith(_READ_PREFIXES)


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    regex: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # required query keys (and values)
    headers: tuple[str, ...]  # required headers (lower case), e.g. S3 CopyObject's copy source
    score: tuple[int, int]


class ServiceModels:
    """Loads botocore service models lazily and indexes them by signing name."""

    def __init__(self) -> None:
        self._session = botocore.session.get_session()
        self._loader = self._session.get_component("data_loader")
        self._lock = threading.Lock()
        self._by_signing_name: dict[str, list[str]] | None = None
        self._models: dict[str, ServiceModel] = {}
        self._routes: dict[str, list[_Route]] = {}

    def model(self, name: str) -> ServiceModel:
        with self._lock:
            if name not in self._models:
                self._models[name] = self._session.get_service_model(name)
            return self._models[name]

    def candidates(self, signing_name: str) -> list[str]:
        """Model names whose signing name is `signing_name` (most likely first)."""
        direct = _known_models(signing_name)
        found = [n for n in direct if self._signing_name(n) == signing_name]
        if found:
            return found
        return self._index().get(signing_name, [])

    def _signing_name(self, name: str) -> str | None:
        try:
            meta = self.model(name).metadata
        except Exception:
            return None
        return meta.get("signingName", meta.get("endpointPrefix"))

    def _index(self) -> dict[str, list[str]]:
        # Loading every model takes a few seconds: only when a signing name is not obvious.
        if self._by_signing_name is None:
            index: dict[str, list[str]] = {}
            for name in self._loader.list_available_services("service-2"):
                meta: dict[str, Any] = self._loader.load_service_model(name, "service-2")[
                    "metadata"
                ]
                key = meta.get("signingName", meta.get("endpointPrefix"))
                index.setdefault(key, []).append(name)
            self._by_signing_name = index
        return self._by_signing_name

    def routes(self, name: str) -> list[_Route]:
        if name not in self._routes:
            model = self.model(name)
            routes = [_route(model.operation_model(op)) for op in model.operation_names]
            self._routes[name] = routes
        return self._routes[name]


# Signing names whose model name differs (checked against the model's metadata anyway).
_ALIASES: dict[str, list[str]] = {
    "monitoring": ["cloudwatch"],
    "elasticloadbalancing": ["elbv2", "elb"],
    "s3": ["s3", "s3control"],
    "apigateway": ["apigateway", "apigatewayv2"],
    "states": ["stepfunctions"],
    "elasticfilesystem": ["efs"],
    "es": ["opensearch", "es"],
    "dynamodb": ["dynamodb", "dynamodbstreams"],
    "email": ["sesv2", "ses"],
    "execute-api": ["apigatewaymanagementapi"],
}


def _known_models(signing_name: str) -> list[str]:
    return _ALIASES.get(signing_name, [signing_name])


def _route(op: Any) -> _Route:
    uri: str = op.http.get("requestUri", "/")
    path, _, query = uri.partition("?")
    parts: list[str] = []
    literal = 0
    pos = 0
    for m in _LABEL.finditer(path):
        chunk = path[pos : m.start()]
        parts.append(re.escape(chunk))
        literal += len(chunk)
        label = m.group(1)
        greedy = label.endswith("+")
        group = re.sub(r"\W", "_", label.rstrip("+"))
        parts.append(f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)")
        pos = m.end()
    parts.append(re.escape(path[pos:]))
    literal += len(path) - pos
    required = [(k, v if v != "" else None) for k, v in parse_qsl(query, keep_blank_values=True)]
    headers: list[str] = []
    # Required members bound to the query string or headers also tell operations apart
    # (S3 PutObject, UploadPart and CopyObject share one URI).
    shape = op.input_shape
    for member in shape.required_members if shape is not None else []:
        ser = shape.members[member].serialization
        if ser.get("location") == "querystring":
            required.append((ser["name"], None))
        elif ser.get("location") == "header":
            headers.append(ser["name"].lower())
    regex = re.compile("^" + "".join(parts).rstrip("/") + "/?$")
    score = (len(required) + len(headers), literal)
    method = op.http.get("method", "POST")
    return _Route(op.name, method, regex, tuple(required), tuple(headers), score)


class OperationResolver:
    """Resolves a request to an `Operation`."""

    def __init__(self, models: ServiceModels | None = None) -> None:
        self.models = models or ServiceModels()

    def resolve(
        self,
        signing_name: str,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        form: dict[str, str],
    ) -> Operation | None:
        candidates = self.models.candidates(signing_name)
        if not candidates:
            return None
        target = headers.get("x-amz-target")
        if target and "." in target:
            op = target.rsplit(".", 1)[1]
            return self._named(candidates, op, target=target)
        action = form.get("Action") or query.get("Action")
        if action:
            return self._named(candidates, action, version=form.get("Version"))
        cbor = re.match(r"^/service/([^/]+)/operation/([^/]+)$", path)
        if cbor:
            return self._named(candidates, cbor.group(2))
        return self._rest(candidates, method, path, query, headers)

    def _named(
        self,
        candidates: list[str],
        op: str,
        target: str | None = None,
        version: str | None = None,
    ) -> Operation:
        for name in candidates:
            model = self.models.model(name)
            if version and model.api_version != version:
                continue
            if (
                target
                and model.metadata.get("targetPrefix")
                and not target.startswith(model.metadata["targetPrefix"] + ".")
            ):
                continue
            if op in model.operation_names:
                return Operation(name, op, model.protocol)
        first = self.models.model(candidates[0])
        return Operation(candidates[0], op, first.protocol)

    def _rest(
        self,
        candidates: list[str],
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
    ) -> Operation | None:
        best: tuple[tuple[int, int], str, _Route, dict[str, str]] | None = None
        for name in candidates:
            for route in self.models.routes(name):
                if route.method != method:
                    continue
                if any(k not in query or (v is not None and query[k] != v) for k, v in route.query):
                    continue
                if any(h not in headers for h in route.headers):
                    continue
                m = route.regex.match(path)
                if not m:
                    continue
                if best is None or route.score > best[0]:
                    best = (route.score, name, route, m.groupdict())
        if best is None:
            return None
        _, name, route, params = best
        return Operation(name, route.operation, self.models.model(name).protocol, params)


@lru_cache(maxsize=1)
def default_resolver() -> OperationResolver:
    """One resolver per process: models are cached inside it."""
    return OperationResolver()
