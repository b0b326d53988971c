"""boto3 sessions that reach the right endpoint, and readable AWS errors."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from soa_sdk.errors import AccessDenied, Conflict, NotFound, ServiceUnavailable, SoaLabError
from soa_sdk.reachability import unavailable

_LOADER = botocore.loaders.create_loader()


def _share_loader(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``boto3.Session``'s arguments, with a botocore session that uses the process's loader."""
    core = kwargs.setdefault("botocore_session", botocore.session.get_session())
    core.register_component("data_loader", _LOADER)
    return kwargs


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 session (``boto3.Session``'s arguments) whose botocore session shares one data
    loader with every other in this process. Each account, role and Terraform command has
    sessions of its own (their credentials), and a new loader reads each service's model and
    endpoint rules from their JSON again (half of a no-change plan's provider time, measured
    with py-spy)."""
    return boto3.Session(**_share_loader(kwargs))


class EndpointSession(boto3.Session):
    """A boto3 session whose clients and resources default to one endpoint URL.

    With ``endpoint_url=None`` it is a plain boto3 session (real AWS). The sandbox passes
    its moto server's URL, so the same SDK code talks to either. Its botocore session shares
    the process's data loader (see :func:`new_session`).
    """

    def __init__(self, *args: Any, endpoint_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **_share_loader(kwargs))
        self.endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """A boto3 client whose connection failures raise ServiceUnavailable (once botocore's
        own retries are spent). boto3 resources and paginators are built on it too."""
        if self.endpoint_url:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        client = super().client(*args, **kwargs)
        call = client._make_api_call  # every operation of a botocore client goes through it

        def guarded(operation: str, params: dict[str, Any]) -> Any:
            try:
                return call(operation, params)
            except (BotoConnectionError, HTTPClientError) as error:
                raise unavailable("aws", client.meta.endpoint_url, error) from None

        client._make_api_call = guarded
        return client

    def resource(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if self.endpoint_url:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        return super().resource(*args, **kwargs)

    def __repr__(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"EndpointSession(region_name={self.region_name!r}, endpoint={where!r})"


NOT_FOUND_CODES = {
    "AWSOrganizationsNotInUseException",
    "AccountNotFoundException",
    "ResourceNotFoundException",
    "NoSuchEntity",
    "ParentNotFoundException",
    "ChildNotFoundException",
    "NotFoundException",
}
DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
}
CONFLICT_CODES = {
    "DuplicateOrganizationalUnitException",
    "DuplicateAccountException",
    "ConcurrentModificationException",
    "AlreadyExistsException",
    "ResourceInUseException",
    "EntityAlreadyExists",
}


def translate_client_error(error: Exception, doing: str) -> SoaLabError:
    """Turn a botocore error into one of ours, saying what we were doing (ours pass as
    they are: a dead endpoint is already a ServiceUnavailable, see EndpointSession.client)."""
    if isinstance(error, SoaLabError):
        return error
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Error")
        message = error.response.get("Error", {}).get("Message", "")
        text = f"AWS refused to {doing}: {code}: {message}".rstrip(": ")
        if code in NOT_FOUND_CODES:
            return NotFound(text)
        if code in DENIED_CODES:
            return AccessDenied(text + ". Check that your credentials are valid and allowed.")
        if code in CONFLICT_CODES:
            return Conflict(text)
        return SoaLabError(text)
    if isinstance(error, BotoCoreError):
        return ServiceUnavailable(
            f"Could not reach AWS to {doing} ({error}). If you use the sandbox, check "
            "`soa-lab status`."
        )
    return SoaLabError(f"Failed to {doing}: {error}")
