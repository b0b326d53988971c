"""Request bodies that clients compress, decompressed before moto reads them.

botocore gzips large requests of the operations that declare ``requestcompression`` in their
service model (CloudWatch ``PutMetricData``, for one) and says so with
``Content-Encoding: gzip``, as AWS accepts. moto 5.2's server reads the body as is and
answers HTTP 500, so this middleware inflates it first. Other encodings pass unchanged.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable

from soa_sdk.sandbox.aws.wsgi import Environ, StartResponse, WSGIApp, read_body, respond


class DecompressionMiddleware:
    """Turns a ``Content-Encoding: gzip`` request into the plain request AWS would decode."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_CONTENT_ENCODING", "").strip().lower() == "gzip":
            try:
                body = gzip.decompress(read_body(environ))
            except (OSError, EOFError):
                return respond(
                    start_response, 400, b"The request body is not valid gzip.", "text/plain"
                )
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["HTTP_CONTENT_ENCODING"]
        return self.app(environ, start_response)
