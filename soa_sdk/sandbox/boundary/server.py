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

    def __init__(self, backend: BoundaryBackend, host: str, port: int) -> None:
        self.backend = backend
        self.proxy = SessionProxy(backend, host="127.0.0.1")
        self.responses = BoundaryResponse(backend, self.proxy)
        self._httpd: BaseWSGIServer = make_server(host, port, self._app, threaded=True)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _app(self, environ, start_response):
        return self.responses.dispatch(Request(environ))(environ, start_response)

    def serve_forever(self) -> None:
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
        if self._thread is not None:
            self._thread.join(timeout=5)


def create_server(backend: BoundaryBackend, host: str = "127.0.0.1",
                  port: int = 9200) -> BoundaryServer:  # fmt: skip
    """A server bound to ``host:port`` (port 0 picks a free one); call ``start()``."""
    return BoundaryServer(backend, host, port)
