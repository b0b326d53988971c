"""A parsed view of one AWS API request, shared by the middleware modules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from soa_sdk.sandbox.aws.wsgi import Captured, Environ, read_body

__all__ = ["AwsRequest", "Captured", "is_internal", "parse"]

# Credential=AKID/20240101/us-east-1/sts/aws4_request
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")

# The sandbox's own routes: moto's dashboard and API, the instance metadata stand-in.
INTERNAL_PREFIXES = ("/moto-api", "/favicon.ico", "/latest/meta-data/", "/latest/api/")


@dataclass
class AwsRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    form: dict[str, str]  # form-encoded body parameters (query protocols)
    access_key_id: str | None  # from the SigV4 credential scope
    region: str | None
    signing_name: str | None
    source_ip: str
    user_agent: str

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def action(self) -> str | None:
        """The query-protocol `Action`, if any."""
        return self.form.get("Action") or self.query.get("Action")

    def param(self, name: str) -> str | None:
        return self.form.get(name) or self.query.get(name)


def is_internal(environ: Environ) -> bool:
    return str(environ.get("PATH_INFO", "")).startswith(INTERNAL_PREFIXES)


def parse(environ: Environ) -> AwsRequest:
    """Parse the request (the body is read and put back for the wrapped application)."""
    headers = {
        k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    body = read_body(environ)
    query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    form: dict[str, str] = {}
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = {}
    auth = headers.get("authorization", "")
    match = _SCOPE.search(auth) or _SCOPE.search(
        "Credential=" + unquote(query.get("X-Amz-Credential", ""))
    )
    path = environ.get("PATH_INFO", "/")
    if isinstance(path, bytes):
        path = path.decode("utf-8", "replace")
    return AwsRequest(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        path=str(path),
        query=query,
        headers=headers,
        body=body,
        form=form,
        access_key_id=match.group(1) if match else None,
        region=match.group(2) if match else None,
        signing_name=match.group(3).lower() if match else None,
        source_ip=str(environ.get("REMOTE_ADDR", "127.0.0.1")),
        user_agent=headers.get("user-agent", ""),
    )
