"""Run the sandbox AWS application on a threaded werkzeug server."""

from __future__ import annotations

import threading
from collections.abc import Callable

from werkzeug.serving import BaseWSGIServer, make_server

from soa_sdk.sandbox.aws.app import build_app
from soa_sdk.sandbox.aws.signing import RootKeys


class AwsServer:
    """The sandbox AWS server on host:port (port 0 picks a free one), threaded like moto's."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        root: RootKeys | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        app = build_app(root, clock)
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        """Serve in the calling thread until `shutdown()` is called from another thread."""
        self._server.serve_forever()

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
