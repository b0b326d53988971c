"""The aws provider's base: configuration, credentials, clients and tags, as the real one's.

Configured as the real provider is: ``region`` (else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``),
credentials from ``access_key``/``secret_key``/``token`` or the environment (the AWS SDK's
chain), endpoints from ``AWS_ENDPOINT_URL`` (the variable the real provider and boto3 both
honour) or the ``endpoints`` block, ``allowed_account_ids`` checked against
``sts:GetCallerIdentity``, ``default_tags`` merged into every ``tags_all``. Every request is
signed with those credentials: the sandbox checks SigV4 and IAM as AWS does.

Reads go to the API every time and return what it holds (a policy document is kept as
written when the API's is the same JSON, as the real provider does); ``role_name`` and
``iam_user_access_to_billing`` of an account, and a key's ``deletion_window_in_days``,
cannot be read back (AWS documents no API for them) and are kept from state.

Credentials then go through ``assume_role_with_web_identity`` (STS
``AssumeRoleWithWebIdentity``, unsigned, the token from the block or from
``AWS_WEB_IDENTITY_TOKEN_FILE`` / ``AWS_ROLE_ARN`` as the real provider reads them) and each
``assume_role`` block in turn (STS ``AssumeRole``, chained), so the accounts' aliased providers
act inside their accounts.

Left out: ``ignore_tags``, refreshing assumed credentials before they expire (a run is
shorter than the session), retries and waits on eventual consistency (moto is consistent),
GovCloud accounts.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from soa_sdk.awsclient import new_session
from soa_sdk.sandbox.providers.aws.common import tag_list
from soa_sdk.sandbox.providers.framework import (
    Provider,
    ProviderError,
    Resource,
    State,
)
from soa_sdk.sandbox.providers.schema import ProviderSchema

log = logging.getLogger(__name__)
SCHEMA_FILE = Path(__file__).with_name("schema.json")


class AwsProvider(Provider):
    def __init__(self) -> None:
        super().__init__(ProviderSchema.load(SCHEMA_FILE))
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.region = "us-east-1"
        self.default_tags: dict[str, str] = {}
        self.account_id = ""
        self._session: boto3.session.Session | None = None
        self._endpoints: dict[str, str] = {}

    def configure(self, config: State) -> None:
        log.debug("configure: default_tags=%r", config.get("default_tags"))
        self.config = config
        self.region = (
            config.get("region")
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )
        self._session = new_session(
            aws_access_key_id=config.get("access_key") or None,
            aws_secret_access_key=config.get("secret_key") or None,
            aws_session_token=config.get("token") or None,
            profile_name=config.get("profile") or None,
            region_name=self.region,
        )
        for block in config.get("endpoints") or []:
            self._endpoints.update({k: v for k, v in block.items() if v})
        webs = config.get("assume_role_with_web_identity") or []
        from_environment = (
            not webs
            and not config.get("access_key")
            and not config.get("profile")
            and os.environ.get("AWS_ROLE_ARN")
            and os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
        )
        if from_environment:
            # The AWS SDKs' chain: a role and a token file in the environment come first.
            webs = [{}]
        for web in webs[:1]:
            self._session = self._assume_with_web_identity(web or {})
        for role in config.get("assume_role") or []:
            if role and role.get("role_arn"):
                self._session = self._assume(self._session, role)
        self._clients.clear()
        tags_blocks = config.get("default_tags") or []
        self.default_tags = dict((tags_blocks[0] or {}).get("tags") or {}) if tags_blocks else {}
        allowed = config.get("allowed_account_ids") or []
        forbidden = config.get("forbidden_account_ids") or []
        if allowed or forbidden or not config.get("skip_requesting_account_id"):
            self.account_id = self.client("sts").get_caller_identity()["Account"]
        if allowed and self.account_id not in allowed:
            raise ProviderError(
                f"AWS account ID not allowed: {self.account_id}",
                f"The credentials are for account {self.account_id}; allowed_account_ids "
                f"permits only {', '.join(sorted(allowed))}.",
            )
        if self.account_id in forbidden:
            raise ProviderError(f"AWS account ID not allowed: {self.account_id}")

    # --- credentials, as the real provider's assume_role blocks get them ----------------

    def _sts(self, session: boto3.session.Session) -> Any:
        return session.client(
            "sts",
            region_name=self.config.get("sts_region") or self.region,
            endpoint_url=self._endpoints.get("sts"),
        )

    def _assume_with_web_identity(self, web: State) -> boto3.session.Session:
        """``assume_role_with_web_identity``: each argument, else the environment variable the
        real provider reads (``AWS_ROLE_ARN``, ``AWS_WEB_IDENTITY_TOKEN_FILE``,
        ``AWS_ROLE_SESSION_NAME``). STS' call is unsigned: the token is the credential."""
        role_arn = web.get("role_arn") or os.environ.get("AWS_ROLE_ARN")
        token = web.get("web_identity_token")
        token_file = web.get("web_identity_token_file") or os.environ.get(
            "AWS_WEB_IDENTITY_TOKEN_FILE"
        )
        if not token and token_file:
            try:
                token = Path(token_file).read_text().strip()
            except OSError as error:
                raise ProviderError(
                    "Cannot read the web identity token",
                    f"web_identity_token_file {token_file}: {error.strerror}.",
                ) from None
        if not role_arn or not token:
            raise ProviderError(
                "Incomplete assume_role_with_web_identity",
                "It needs role_arn (or AWS_ROLE_ARN) and web_identity_token or "
                "web_identity_token_file (or AWS_WEB_IDENTITY_TOKEN_FILE).",
            )
        kwargs: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": web.get("session_name")
            or os.environ.get("AWS_ROLE_SESSION_NAME")
            or "terraform",
            "WebIdentityToken": token,
        }
        kwargs.update(_session_options(web))
        sts = new_session(region_name=self.region).client(
            "sts",
            region_name=self.config.get("sts_region") or self.region,
            endpoint_url=self._endpoints.get("sts"),
            config=Config(signature_version=UNSIGNED),
        )
        try:
            reply = sts.assume_role_with_web_identity(**kwargs)
        except ClientError as error:
            raise ProviderError(
                "Cannot assume IAM Role with web identity",
                f"{role_arn}: {error.response.get('Error', {}).get('Message', error)}",
            ) from None
        return self._session_from(reply["Credentials"])

    def _assume(self, session: boto3.session.Session, role: State) -> boto3.session.Session:
        """One ``assume_role`` block (several chain, in order), from ``session``."""
        kwargs: dict[str, Any] = {
            "RoleArn": role["role_arn"],
            "RoleSessionName": role.get("session_name") or "terraform",
        }
        if role.get("external_id"):
            kwargs["ExternalId"] = role["external_id"]
        if role.get("source_identity"):
            kwargs["SourceIdentity"] = role["source_identity"]
        if role.get("tags"):
            kwargs["Tags"] = tag_list(role["tags"])
        if role.get("transitive_tag_keys"):
            kwargs["TransitiveTagKeys"] = sorted(role["transitive_tag_keys"])
        kwargs.update(_session_options(role))
        try:
            reply = self._sts(session).assume_role(**kwargs)
        except ClientError as error:
            raise ProviderError(
                "Cannot assume IAM Role",
                f"{role['role_arn']}: {error.response.get('Error', {}).get('Message', error)}",
            ) from None
        return self._session_from(reply["Credentials"])

    def _session_from(self, credentials: dict[str, Any]) -> boto3.session.Session:
        return new_session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.region,
        )

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                session = self._session or new_session(region_name=self.region)
                self._clients[service] = session.client(
                    service,
                    region_name=self.region,
                    endpoint_url=self._endpoints.get(service),
                    config=Config(retries={"max_attempts": 2, "mode": "standard"}),
                )
            return self._clients[service]

    # --- tags, as the real provider handles them ------------------------------------

    def tags_all(self, tags: dict[str, str] | None) -> dict[str, str]:
        return {**self.default_tags, **(tags or {})}

    def tags_from_api(self, state: State, api_tags: dict[str, str]) -> tuple[Any, Any]:
        """(``tags``, ``tags_all``) from what the API holds: ``tags`` is what is not a
        default tag with its default value."""
        own = {k: v for k, v in api_tags.items() if self.default_tags.get(k) != v}
        if not own and state.get("tags") is None:
            return None, dict(api_tags)
        return own, dict(api_tags)


class AwsResource(Resource):
    provider: AwsProvider
    tagged = False

    def plan(self, planned: State, prior: State | None, config: State) -> State:
        if self.tagged:
            planned["tags_all"] = self.provider.tags_all(planned.get("tags"))
        for key in ("region",):
            if key in self.schema.block.attributes and planned.get(key) is None:
                planned[key] = self.provider.region
        return planned

    def client(self, service: str) -> Any:
        return self.provider.client(service)

    def import_state(self, import_id: str) -> State | None:
        # The monorepo's modules always pass tags (var.tags, {} by default): an imported
        # resource without tags of its own has the empty map, not null, as after a create.
        return self.read({"id": import_id, **({"tags": {}} if self.tagged else {})})

    def with_tags(self, state: State, api_tags: dict[str, str]) -> State:
        state["tags"], state["tags_all"] = self.provider.tags_from_api(state, api_tags)
        return state

    @property
    def arn_prefix(self) -> str:
        return f"arn:aws:{{}}:{self.provider.region}:{self.provider.account_id}"


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


def _duration_seconds(text: str) -> int:
    """A Go duration (``"1h"``, ``"15m"``, ``"1h30m"``) in whole seconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ProviderError(
            "Invalid duration", f"{text!r} is not a duration such as 15m, 1h or 1h30m."
        )
    return int(sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts))


def _session_options(block: State) -> dict[str, Any]:
    """What ``assume_role`` and ``assume_role_with_web_identity`` share."""
    options: dict[str, Any] = {}
    if block.get("duration"):
        options["DurationSeconds"] = _duration_seconds(block["duration"])
    if block.get("policy"):
        options["Policy"] = block["policy"]
    if block.get("policy_arns"):
        options["PolicyArns"] = [{"arn": arn} for arn in sorted(block["policy_arns"])]
    return options
