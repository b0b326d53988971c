"""A threaded HTTP server for the emulated Boundary controller API."""

from __future__ import annotations

import threading

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request

from .models import BoundaryBackend
from .proxy import SessionProxy
from .responses import BoundaryResponse


class BoundaryServer:
    """The HTTP server, its backend and session proxy; ``start()`` serves in a thread."""

    def __init__(
        self,
        backend: BoundaryBackend,
        host: str,
        port: int,
        tls: tuple[int, str, str] | None = None,
    ) -> None:
        self.backend = backend
        self.proxy = SessionProxy(backend, host="127.0.0.1")
        self.responses = BoundaryResponse(backend, self.proxy)
        self._httpd: BaseWSGIServer = make_server(host, port, self._app, threaded=True)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None
        # A second, TLS listener on the same API (a controller's ``listener "tcp"`` with
        # ``tls_cert_file`` / ``tls_key_file``): (port, certificate file, key file).
        self._https: BaseWSGIServer | None = None
        self._https_thread: threading.Thread | None = None
        if tls is not None:
            tls_port, cert, key = tls
            self._https = make_server(
                host, tls_port, self._app, threaded=True, ssl_context=(cert, key)
            )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _app(self, environ, start_response):
        return self.responses.dispatch(Request(environ))(environ, start_response)

    @property
    def tls_url(self) -> str | None:
        if self._https is None:
            return None
        return f"https://{self.host}:{self._https.server_address[1]}"

    def serve_forever(self) -> None:
        if self._https is not None and self._https_thread is None:
            self._https_thread = threading.Thread(
                target=self._https.serve_forever, daemon=True, name="boundary-sandbox-tls"
            )
            self._https_thread.start()
        self._httpd.serve_forever()

    def start(self) -> BoundaryServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name="boundary-sandbox")  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        self.proxy.close_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._https is not None:
            if self._https_thread is not None:
                self._https.shutdown()
            self._https.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def create_server(backend: BoundaryBackend, host: str = "127.0.0.1", port: int = 9200,
                  tls: tuple[int, str, str] | None = None) -> BoundaryServer:  # fmt: skip
    """A server bound to ``host:port`` (port 0 picks a free one), and with ``tls`` (port,
    certificate and key files) a TLS listener too; call ``start()``."""
    return BoundaryServer(backend, host, port, tls)
