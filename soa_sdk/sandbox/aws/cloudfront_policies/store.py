"""Response headers policies, kept per account as CloudFront keeps them.

The API's rules the store enforces: a name is unique in the account, every change and the
delete name the policy's current ``ETag`` (``If-Match``; else ``PreconditionFailed`` or
``InvalidIfMatchVersion``), a policy used by a distribution cannot be deleted
(``ResponseHeadersPolicyInUse``, checked by the caller). Managed response headers policies
are left out (this lab's modules make their own).
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class CloudFrontError(Exception):
    """An error CloudFront answers with: its code, HTTP status and message."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


@dataclass
class ResponseHeadersPolicy:
    id: str
    config: dict[str, Any]
    etag: str = field(default_factory=lambda: secrets.token_hex(7).upper())
    last_modified: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def shape(self) -> dict[str, Any]:
        """``ResponseHeadersPolicy`` in the API's shape."""
        return {
            "Id": self.id,
            "LastModifiedTime": self.last_modified,
            "ResponseHeadersPolicyConfig": self.config,
        }


class ResponseHeadersPolicies:
    """Every account's response headers policies (thread-safe: the server is threaded)."""

    def __init__(self) -> None:
        self._by_account: dict[str, dict[str, ResponseHeadersPolicy]] = {}
        self._lock = threading.Lock()

    def _account(self, account: str) -> dict[str, ResponseHeadersPolicy]:
        return self._by_account.setdefault(account, {})

    def list(self, account: str) -> list[ResponseHeadersPolicy]:
        with self._lock:
            return list(self._account(account).values())

    def get(self, account: str, policy_id: str) -> ResponseHeadersPolicy:
        with self._lock:
            policy = self._account(account).get(policy_id)
        if policy is None:
            raise CloudFrontError(
                "NoSuchResponseHeadersPolicy", 404, "The response headers policy does not exist."
            )
        return policy

    def _name_free(self, account: str, name: str, besides: str = "") -> None:
        if any(
            p.config.get("Name") == name and p.id != besides
            for p in self._account(account).values()
        ):
            raise CloudFrontError(
                "ResponseHeadersPolicyAlreadyExists",
                409,
                "A response headers policy with this name already exists.",
            )

    def create(self, account: str, config: dict[str, Any]) -> ResponseHeadersPolicy:
        with self._lock:
            self._name_free(account, config.get("Name", ""))
            policy = ResponseHeadersPolicy(str(uuid.uuid4()), config)
            self._account(account)[policy.id] = policy
            return policy

    @staticmethod
    def _check(policy: ResponseHeadersPolicy, if_match: str | None) -> None:
        if not if_match:
            raise CloudFrontError(
                "InvalidIfMatchVersion", 400, "The If-Match version is missing or not valid."
            )
        if if_match != policy.etag:
            raise CloudFrontError(
                "PreconditionFailed",
                412,
                "The precondition in one or more of the request fields evaluated to false.",
            )

    def update(
        self, account: str, policy_id: str, config: dict[str, Any], if_match: str | None
    ) -> ResponseHeadersPolicy:
        policy = self.get(account, policy_id)
        with self._lock:
            self._check(policy, if_match)
            self._name_free(account, config.get("Name", ""), besides=policy_id)
            policy.config = config
            policy.etag = secrets.token_hex(7).upper()
            policy.last_modified = datetime.now(UTC).isoformat()
            return policy

    def delete(self, account: str, policy_id: str, if_match: str | None) -> None:
        policy = self.get(account, policy_id)
        with self._lock:
            self._check(policy, if_match)
            del self._account(account)[policy_id]
