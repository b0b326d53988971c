"""STS errors for `AssumeRoleWithWebIdentity`, in STS's query-protocol XML error shape."""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
VERIFICATION_KEY = (
    "Couldn't retrieve verification key from your identity provider,  "
    "please reference AssumeRoleWithWebIdentity documentation for requirements"
)
NOT_A_JWT = (
    "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"
)
NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"


class StsError(Exception):
    """One refusal: the error code, HTTP status and message STS returns."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def xml(self) -> bytes:
        return (
            f'<ErrorResponse xmlns="{STS_NS}">'
            f"<Error><Type>Sender</Type><Code>{escape(self.code)}</Code>"
            f"<Message>{escape(self.message)}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        ).encode()


def invalid_token(message: str) -> StsError:
    return StsError("InvalidIdentityToken", message)


def no_provider(issuer: str) -> StsError:
    return invalid_token(f"No OpenIDConnect provider found in your account for {issuer}")


def expired(now: int, exp: int) -> StsError:
    # AWS's own wording, missing space included.
    return StsError(
        "ExpiredTokenException",
        f"Token expired: current date/time {now} must be before the expiration date/time{exp}",
    )


def access_denied() -> StsError:
    return StsError("AccessDenied", NOT_AUTHORIZED, status=403)


def idp_unreachable() -> StsError:
    return StsError(
        "IDPCommunicationError",
        "The request could not be fulfilled because the identity provider (IDP) that was asked "
        "to verify the incoming identity token could not be reached.",
    )
