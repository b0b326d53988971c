"""WSGI middleware: the CloudFront policy APIs moto 5.2 does not serve.

CloudFront's REST API (2020-05-31) for cache policies and origin request policies (the AWS
managed ones, read-only: ``ListCachePolicies`` / ``GetCachePolicy`` / ``GetCachePolicyConfig``
and the same for origin request policies) and for response headers policies (``Create``,
``Get``, ``GetConfig``, ``Update``, ``Delete``, ``List``, with ``ETag`` / ``If-Match``).
Requests are parsed and answers serialized from botocore's CloudFront service model with
moto's own rest-xml parser and serializer, so the wire format is CloudFront's. Everything
else goes to moto untouched.

Left out: custom cache and origin request policies (``Create``/``Update``/``Delete``: this
lab's modules use the managed ones), managed response headers policies, ``Type`` filtering
beyond managed/custom, pagination (``Marker``: every list fits one page here). These calls
are signed (the signature middleware is outside this one) but not checked against IAM
policies, which moto's own dispatch does for the calls it serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from moto.core.parse import PROTOCOL_PARSERS
from moto.core.serialize import get_serializer_class
from moto.core.utils import get_service_model
from werkzeug.datastructures import Headers

from soa_sdk.sandbox.aws import request as aws_request
from soa_sdk.sandbox.aws.cloudfront_policies.managed import (
    CACHE_POLICIES,
    LAST_MODIFIED,
    ORIGIN_REQUEST_POLICIES,
)
from soa_sdk.sandbox.aws.cloudfront_policies.store import (
    CloudFrontError,
    ResponseHeadersPolicies,
)
from soa_sdk.sandbox.aws.wsgi import Environ, StartResponse, WSGIApp, respond

_OPERATIONS = (
    "ListCachePolicies",
    "GetCachePolicy",
    "GetCachePolicyConfig",
    "ListOriginRequestPolicies",
    "GetOriginRequestPolicy",
    "GetOriginRequestPolicyConfig",
    "CreateResponseHeadersPolicy",
    "GetResponseHeadersPolicy",
    "GetResponseHeadersPolicyConfig",
    "UpdateResponseHeadersPolicy",
    "DeleteResponseHeadersPolicy",
    "ListResponseHeadersPolicies",
)
_PREFIXES = (
    "/2020-05-31/cache-policy",
    "/2020-05-31/origin-request-policy",
    "/2020-05-31/response-headers-policy",
)


def _routes() -> list[tuple[str, re.Pattern[str], Any]]:
    """(method, path pattern, operation model) for each operation, from the service model."""
    model = get_service_model("cloudfront")
    routes = []
    for name in _OPERATIONS:
        operation = model.operation_model(name)
        uri = operation.http["requestUri"].split("?")[0]
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", uri)
        routes.append((operation.http["method"], re.compile(f"^{pattern}$"), operation))
    return routes


def _account(req: aws_request.AwsRequest) -> str:
    """The caller's account, as moto finds it (header, then access key)."""
    if req.headers.get("x-moto-account-id"):
        return req.headers["x-moto-account-id"]
    from moto.iam.models import get_account_id_from

    return get_account_id_from(req.access_key_id or "")


def _distributions_using(account: str, policy_id: str) -> bool:
    from moto.cloudfront.models import cloudfront_backends

    backend = cloudfront_backends[account]["global"]
    for distribution in backend.distributions.values():
        config = distribution.distribution_config
        behaviours = [config.DefaultCacheBehavior]
        behaviours += list((config.CacheBehaviors or {}).get("Items") or [])
        if any(getattr(b, "response_headers_policy_id", None) == policy_id for b in behaviours):
            return True
    return False


def _managed_list(kind: str, policies: dict[str, dict[str, Any]], wanted: str | None) -> dict:
    items = []
    if wanted in (None, "managed"):
        items = [
            {
                "Type": "managed",
                kind: {"Id": i, "LastModifiedTime": LAST_MODIFIED, f"{kind}Config": c},
            }
            for i, c in policies.items()
        ]
    return {"MaxItems": 100, "Quantity": len(items), "Items": items}


def _managed(kind: str, policies: dict[str, dict[str, Any]], policy_id: str, config: bool) -> dict:
    if policy_id not in policies:
        raise CloudFrontError(f"NoSuch{kind}", 404, f"The {kind} does not exist.")
    etag = {"ETag": "E" + policy_id.replace("-", "")[:13].upper()}
    if config:
        return {f"{kind}Config": policies[policy_id], **etag}
    shape = {
        "Id": policy_id,
        "LastModifiedTime": LAST_MODIFIED,
        f"{kind}Config": policies[policy_id],
    }
    return {kind: shape, **etag}


class CloudFrontPoliciesMiddleware:
    """Answers the cache, origin request and response headers policy calls."""

    def __init__(self, app: WSGIApp, store: ResponseHeadersPolicies | None = None) -> None:
        self.app = app
        self.store = store or ResponseHeadersPolicies()
        self._routes = _routes()

    def _match(self, method: str, path: str) -> tuple[Any, dict[str, str]] | None:
        for route_method, pattern, operation in self._routes:
            found = pattern.match(path)
            if found and route_method == method:
                return operation, found.groupdict()
        return None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(_PREFIXES):
            return self.app(environ, start_response)
        req = aws_request.parse(environ)
        if req.signing_name not in (None, "cloudfront"):
            return self.app(environ, start_response)
        matched = self._match(req.method, req.path)
        if matched is None:
            return self.app(environ, start_response)
        operation, uri_params = matched
        parser = PROTOCOL_PARSERS["rest-xml"](operation)
        params = parser.parse(
            {
                "method": req.method,
                "values": req.query,
                "headers": Headers(list(req.headers.items())),  # If-Match, any case
                "body": req.body,
                "url_path": req.path,
                "url_params": uri_params,
            }
        )
        serializer = get_serializer_class("cloudfront", "rest-xml")(operation)
        try:
            result = self._answer(operation.name, _account(req), dict(params))
        except CloudFrontError as error:
            body = (
                '<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/'
                f'2020-05-31/"><Error><Type>Sender</Type><Code>{error.code}</Code><Message>'
                f"{error.message}</Message></Error><RequestId>sandbox</RequestId></ErrorResponse>"
            )
            return respond(start_response, error.status, body.encode(), "text/xml")
        answer = serializer.serialize(result)
        body = answer["body"]
        body_bytes = body.encode() if isinstance(body, str) else bytes(body or b"")
        headers = [(k, str(v)) for k, v in answer["headers"].items() if k != "Content-Type"]
        content_type = answer["headers"].get("Content-Type", "application/xml")
        return respond(start_response, answer["status_code"], body_bytes, content_type, headers)

    def _answer(self, operation: str, account: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "ListCachePolicies":
            return {
                "CachePolicyList": _managed_list("CachePolicy", CACHE_POLICIES, params.get("Type"))
            }
        if operation == "ListOriginRequestPolicies":
            listing = _managed_list(
                "OriginRequestPolicy", ORIGIN_REQUEST_POLICIES, params.get("Type")
            )
            return {"OriginRequestPolicyList": listing}
        if operation.startswith("Get") and "CachePolicy" in operation:
            return _managed(
                "CachePolicy", CACHE_POLICIES, params["Id"], operation.endswith("Config")
            )
        if operation.startswith("Get") and "OriginRequestPolicy" in operation:
            config = operation.endswith("Config")
            return _managed("OriginRequestPolicy", ORIGIN_REQUEST_POLICIES, params["Id"], config)
        return self._response_headers(operation, account, params)

    def _response_headers(self, operation: str, account: str, params: dict[str, Any]) -> dict:
        store = self.store
        if operation == "ListResponseHeadersPolicies":
            policies = [] if params.get("Type") == "managed" else store.list(account)
            items = [{"Type": "custom", "ResponseHeadersPolicy": p.shape()} for p in policies]
            return {
                "ResponseHeadersPolicyList": {
                    "MaxItems": 100,
                    "Quantity": len(items),
                    "Items": items,
                }
            }
        if operation == "CreateResponseHeadersPolicy":
            policy = store.create(account, params["ResponseHeadersPolicyConfig"])
            location = (
                f"https://cloudfront.amazonaws.com/2020-05-31/response-headers-policy/{policy.id}"
            )
            return {
                "ResponseHeadersPolicy": policy.shape(),
                "Location": location,
                "ETag": policy.etag,
            }
        if operation == "UpdateResponseHeadersPolicy":
            policy = store.update(
                account, params["Id"], params["ResponseHeadersPolicyConfig"], params.get("IfMatch")
            )
            return {"ResponseHeadersPolicy": policy.shape(), "ETag": policy.etag}
        if operation == "DeleteResponseHeadersPolicy":
            store.get(account, params["Id"])
            if _distributions_using(account, params["Id"]):
                raise CloudFrontError(
                    "ResponseHeadersPolicyInUse",
                    409,
                    "The response headers policy is attached to one or more cache behaviors.",
                )
            store.delete(account, params["Id"], params.get("IfMatch"))
            return {}
        policy = store.get(account, params["Id"])
        if operation == "GetResponseHeadersPolicyConfig":
            return {"ResponseHeadersPolicyConfig": policy.config, "ETag": policy.etag}
        return {"ResponseHeadersPolicy": policy.shape(), "ETag": policy.etag}
