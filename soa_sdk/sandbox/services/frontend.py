"""Frontend: the sandbox's CloudFront edge, which serves the frontend runtime's distribution
(the store's site from S3, ``/api/*`` to the store's ingress) on a local URL
(:mod:`soa_sdk.sandbox.frontend`). It starts empty; step 1 (``lab.frontend.create``)
applies ``terraform/runtime_frontend`` (the bucket and the distribution in the ``frontend``
account) and deploys the distribution here. It trusts the mesh's CA roots (from Consul) for
the ingress gateway's TLS listener, the distribution's ``/api/*`` origin.

It reads AWS with the sandbox's administrator keys (passed in the environment, as its control
API's token ``frontend_api_token``). What it serves is kept in a file, so it can be restarted
on its own: it reads the distribution from AWS again."""

from __future__ import annotations

from typing import ClassVar

from soa_sdk.sandbox.frontend import TOKEN_ENV
from soa_sdk.sandbox.services.base import Launch, LaunchContext, Service, http_ok, loopback_server
from soa_sdk.sandbox.state import ServiceRecord

API_TOKEN = "frontend_api_token"


class FrontendService(Service):
    name: ClassVar[str] = "frontend"
    summary: ClassVar[str] = "CloudFront edge (the store's web frontend)"
    depends_on: ClassVar[tuple[str, ...]] = ("aws", "consul")
    lost_when_stopped: ClassVar[str] = "nothing: it serves again what it served"
    restart_alone: ClassVar[bool] = True
    restart_note: ClassVar[str] = "the distribution it serves is kept on disk and read again"

    secret_names: ClassVar[tuple[str, ...]] = (API_TOKEN,)

    def launch(self, context: LaunchContext) -> Launch:
        folder = context.home / "frontend"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return loopback_server(
            "soa_sdk.sandbox.frontend",
            *("--aws-url", context.urls["aws"]),
            *("--consul-url", context.urls["consul"]),
            *("--state-file", str(folder / "distribution.json")),
            port=context.port_for(self.name),
            paths=[str(folder)],
            env={
                TOKEN_ENV: context.secrets[API_TOKEN],
                "AWS_ACCESS_KEY_ID": context.secrets["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": context.secrets["aws_secret_access_key"],
            },
        )

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        return http_ok(f"{record.url}/sandbox/health")
