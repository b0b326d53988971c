"""Small WSGI helpers shared by the middleware modules."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Error"}


def read_body(environ: Environ) -> bytes:
    """Read the request body and put it back, so that the wrapped app can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        # Chunked uploads: the server marks the stream as ending with the body.
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    return body


def respond(
    start_response: StartResponse,
    status: int,
    body: bytes,
    content_type: str,
    extra_headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    """Send a complete response."""
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    headers.extend(extra_headers or [])
    start_response(f"{status} {_REASONS.get(status, 'Status')}", headers)
    return [body]


@dataclass
class Captured:
    """A response produced by a wrapped application, held back to be inspected."""

    status: int = 500
    status_line: str = "500 Error"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def send(self, start_response: StartResponse) -> list[bytes]:
        start_response(self.status_line, self.headers)
        return [self.body]


def capture(app: WSGIApp, environ: Environ) -> Captured:
    """Call `app` and collect its whole response (moto builds whole bodies anyway)."""
    out = Captured()
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        out.status_line = status
        out.status = int(status.split(" ", 1)[0])
        out.headers = list(headers)
        return chunks.append

    result = app(environ, start_response)
    try:
        for chunk in result:
            chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    out.body = b"".join(chunks)
    return out
