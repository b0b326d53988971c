"""The HTTP server: a WSGI app over :data:`~.urls.ROUTES`, served by werkzeug's threaded server.

HTTP/1.1 with keep-alive, one thread per connection (blocking queries hold theirs), request
logging off; the same app over TLS for the HTTPS port. Errors become Consul's ``text/plain``
bodies with their status codes.
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any

from werkzeug import exceptions as wz
from werkzeug.routing import RequestRedirect
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .exceptions import ConsulError, MethodNotAllowed, PageNotFound
from .models import ConsulBackend, check_namespace
from .responses import Call, Reply, encode
from .urls import ROUTES, URL_MAP

log = logging.getLogger(__name__)


def request_token(request: Request) -> str | None:
    """The request's ACL token: ``X-Consul-Token``, ``Authorization: Bearer``, or ``?token=``."""
    token = request.headers.get("X-Consul-Token")
    if token:
        return token
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.args.get("token") or None


class ConsulApp:
    """The WSGI application serving one :class:`ConsulBackend`."""

    def __init__(self, backend: ConsulBackend) -> None:
        self.backend = backend

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        try:
            reply = self.dispatch(request)
            response = Response(encode(reply), status=reply.status, headers=reply.headers)
            response.content_type = reply.content_type
        except ConsulError as exc:
            response = Response(
                str(exc), status=exc.code, headers=exc.headers, mimetype="text/plain"
            )
        except Exception as exc:
            log.exception("internal error serving %s %s", request.method, request.path)
            response = Response(str(exc), status=500, mimetype="text/plain")
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Reply:
        adapter = URL_MAP.bind_to_environ(request.environ)
        try:
            endpoint, params = adapter.match()
        except wz.MethodNotAllowed as exc:
            raise MethodNotAllowed(request.method, sorted(exc.valid_methods or [])) from exc
        except (wz.NotFound, RequestRedirect) as exc:
            raise PageNotFound() from exc
        route = ROUTES[endpoint]
        check_namespace(request.headers.get("X-Consul-Namespace"), 'header: "X-Consul-Namespace"')
        check_namespace(request.args.get("ns"))
        call = Call(
            backend=self.backend,
            method=request.method,
            path=request.path,
            args=request.args,
            headers=request.headers,
            body=request.get_data(cache=False),
            params=params,
            token=request_token(request),
        )
        return route.handler(call)


class _QuietHandler(WSGIRequestHandler):
    """No per-request log lines (they would also echo ``?token=`` query strings)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            log.debug(message, *args)


class ConsulServer:
    """A running HTTP server: ``server_port``, ``serve_forever()``, ``shutdown()``."""

    def __init__(
        self,
        backend: ConsulBackend,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.backend = backend
        self._server: ThreadedWSGIServer = make_server(
            host,
            port,
            ConsulApp(backend),
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=ssl_context,
        )  # type: ignore[assignment]
        self.scheme = "https" if ssl_context is not None else "http"
        self._server.daemon_threads = True
        self.host = host
        self.server_port: int = self._server.server_port
        self._serving = threading.Event()

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.server_port}"

    def serve_forever(self) -> None:
        self._serving.set()
        self._server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop serving and close the listening socket (the backend stays usable)."""
        if self._serving.is_set():
            self._server.shutdown()
        self._server.server_close()


def create_server(
    backend: ConsulBackend,
    host: str = "127.0.0.1",
    port: int = 8500,
    tls: tuple[str, str] | None = None,
) -> ConsulServer:
    """Bind a server for ``backend`` on ``host:port`` (port 0 picks a free one); with
    ``tls`` (certificate and key files) it serves HTTPS, as Consul's ``ports.https``."""
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
    return ConsulServer(backend, host, port, context)
