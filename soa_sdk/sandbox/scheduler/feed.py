"""The scheduler's client of the AWS stand-in's scheduling routes
(:mod:`soa_sdk.sandbox.aws.scheduling`), signed with the sandbox's root keys (SigV4, as
moto's own ``/moto-api/`` routes need)."""

from __future__ import annotations

import json
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FEED_PATH = "/moto-api/sandbox/compute"
REPORT_PATH = "/moto-api/sandbox/ecs-running"


class FeedError(RuntimeError):
    """The AWS stand-in did not answer the feed (it is down, or refused the keys)."""


class ComputeFeed:
    """``changes`` (the long poll) and ``report`` (ECS's counts)."""

    def __init__(self, aws_url: str, access_key_id: str, secret_access_key: str) -> None:
        self.url = aws_url.rstrip("/")
        self._credentials = Credentials(access_key_id, secret_access_key)
        self._http = requests.Session()

    def _send(self, method: str, path: str, body: bytes = b"", timeout: float = 10.0) -> Any:
        request = AWSRequest(method=method, url=self.url + path, data=body)
        if body:
            request.headers["Content-Type"] = "application/json"
        SigV4Auth(self._credentials, "moto", "us-east-1").add_auth(request)
        try:
            reply = self._http.request(
                method, request.url, data=body or None, headers=dict(request.headers),
                timeout=timeout,
            )  # fmt: skip
        except requests.RequestException as error:
            raise FeedError(f"the AWS stand-in at {self.url} did not answer: {error}") from None
        if reply.status_code != 200:
            raise FeedError(f"{method} {path} answered {reply.status_code}: {reply.text[:200]}")
        return reply.json()

    def changes(self, after: int, wait: float) -> dict[str, Any]:
        """The snapshot once a change numbered above ``after`` is made, or after ``wait`` s."""
        path = f"{FEED_PATH}?after={after}&wait={wait:g}"
        return self._send("GET", path, timeout=wait + 10)

    def report(self, services: list[dict[str, Any]]) -> None:
        """What runs per ECS service and task definition revision."""
        self._send("POST", REPORT_PATH, json.dumps({"services": services}).encode())
