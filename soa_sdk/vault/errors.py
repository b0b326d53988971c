"""The one place where hvac and botocore failures become readable soa-lab errors.

hvac raises one exception class per HTTP status (``hvac.exceptions.Forbidden`` for 403 and so on,
see ``hvac.exceptions.VaultError.from_status``) and ``requests`` raises ``ConnectionError`` when
nothing listens. A learner needs to know *what* the lab was doing, *which* Vault endpoint said
no, and what to try next; that is what these classes carry. Secrets never appear in messages:
hvac's own messages hold the server's error strings and the URL, never the request body.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import hvac.exceptions
import requests
from botocore.exceptions import BotoCoreError, ClientError

from soa_sdk.errors import AccessDenied, NotFound, ServiceUnavailable, SoaLabError, ValidationError


class VaultSetupError(SoaLabError):
    """A Vault (OpenBao) call made while setting up the lab failed.

    ``action`` says what we were doing, ``status`` is the HTTP status (``None`` when Vault could
    not be reached) and ``endpoint`` the method and path that failed.
    """

    hint = ""

    def __init__(
        self,
        message: str,
        *,
        action: str = "",
        status: int | None = None,
        endpoint: str = "",
    ) -> None:
        self.action = action
        self.status = status
        self.endpoint = endpoint
        parts = [f"{action}: {message}" if action else message]
        if endpoint:
            parts.append(f"(Vault answered {status} on {endpoint})")
        if self.hint:
            parts.append(self.hint)
        super().__init__(" ".join(parts))


class VaultUnavailable(VaultSetupError, ServiceUnavailable):
    """Vault could not be reached, is sealed or is not initialised (no HTTP answer, 501, 503)."""

    hint = "Is the sandbox up (`soa-lab status`) or VAULT_ADDR right?"


class VaultAuthError(VaultSetupError):
    """The token is missing, expired or revoked (401)."""

    hint = "Log in again or check VAULT_TOKEN."


class VaultPermissionDenied(VaultSetupError, AccessDenied):
    """The token's policies do not allow this path and operation, or the token is unknown (403).

    Vault answers an unknown or revoked token with 403 too, not 401.
    """

    hint = (
        "The token is invalid or expired, or its policies do not grant this path "
        "(`bao token capabilities <path>` shows what they do grant)."
    )


class VaultNotFound(VaultSetupError, NotFound):
    """Nothing at this path: a mount, role, key or lease that does not exist (404)."""


class VaultInvalidRequest(VaultSetupError):
    """Vault refused the request's content (400), e.g. a database it cannot connect to."""


class InvalidTTLError(VaultSetupError, ValidationError):
    """A TTL or duration is out of range; raised before any call is made."""


class InvalidSettingError(VaultSetupError, ValidationError):
    """Another setting is invalid (a name, URL or audience); raised before any call is made."""


class AwsExchangeError(VaultSetupError):
    """AWS refused a step of the workload-identity exchange (IAM provider, STS web identity).

    ``code`` is AWS's error code, e.g. ``InvalidIdentityToken`` or ``AccessDenied``.
    """

    def __init__(self, message: str, *, action: str = "", code: str = "") -> None:
        self.code = code
        super().__init__(f"{code}: {message}" if code else message, action=action)


_BY_STATUS: dict[int, type[VaultSetupError]] = {
    400: VaultInvalidRequest,
    401: VaultAuthError,
    403: VaultPermissionDenied,
    404: VaultNotFound,
    501: VaultUnavailable,
    503: VaultUnavailable,
}


_HVAC_STATUS: dict[int, type[hvac.exceptions.VaultError]] = {
    400: hvac.exceptions.InvalidRequest,
    401: hvac.exceptions.Unauthorized,
    403: hvac.exceptions.Forbidden,
    404: hvac.exceptions.InvalidPath,
    429: hvac.exceptions.RateLimitExceeded,
    500: hvac.exceptions.InternalServerError,
    501: hvac.exceptions.VaultNotInitialized,
    502: hvac.exceptions.BadGateway,
    503: hvac.exceptions.VaultDown,
}


def _status_of(exc: hvac.exceptions.VaultError) -> int | None:
    for status, hvac_cls in _HVAC_STATUS.items():
        if isinstance(exc, hvac_cls):
            return status
    return None


def translate(exc: BaseException, action: str) -> VaultSetupError:
    """Turn an hvac, requests or botocore exception into the matching soa-lab error."""
    if isinstance(exc, hvac.exceptions.VaultError):
        status = _status_of(exc)
        endpoint = f"{(exc.method or '').upper()} {_path_of(exc.url)}".strip()
        errors = exc.errors if isinstance(exc.errors, list) else None
        message = "; ".join(str(e) for e in errors) if errors else str(exc.args[0] or "")
        cls = _BY_STATUS.get(status or 0, VaultSetupError)
        if status == 403 and not errors:
            message = "permission denied"
        return cls(message or type(exc).__name__, action=action, status=status, endpoint=endpoint)
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return VaultUnavailable("no answer from Vault", action=action)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return AwsExchangeError(
            error.get("Message", str(exc)), action=action, code=error.get("Code", "")
        )
    if isinstance(exc, BotoCoreError):
        return AwsExchangeError(str(exc), action=action)
    return VaultSetupError(str(exc), action=action)


def _path_of(url: str | None) -> str:
    # hvac's URL is absolute; the path alone names the endpoint and keeps hosts out of messages.
    if not url:
        return ""
    return "/" + url.split("/", 3)[3] if url.count("/") >= 3 else url


@contextlib.contextmanager
def vault_errors(action: str) -> Iterator[None]:
    """Run a block of client calls; re-raise their failures as soa-lab errors naming ``action``."""
    try:
        yield
    except VaultSetupError:
        raise
    except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
        raise translate(exc, action) from exc
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action) from exc
