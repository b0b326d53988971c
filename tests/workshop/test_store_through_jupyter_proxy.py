"""The store's page from a browser that is not on the sandbox's machine (Binder, JupyterHub).

A real Jupyter server runs under a hub-style prefix (``/user/attendee/``, as JupyterHub sets
``JUPYTERHUB_SERVICE_PREFIX``) with jupyter-server-proxy, as the lab installs it; the
notebook's link to the store goes through the server's ``/proxy/<port>/``, and the page and its
relative ``api/`` calls answer there, through the sandbox's CloudFront edge and the mesh.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from soa_sdk.frontend import HUB_PREFIX_ENV, Link, through_jupyter_proxy

PREFIX = "/user/attendee/"
RUNTIME = "runtime-ecs"


@pytest.fixture(scope="module")
def store(lab) -> Any:
    lab.org.require()
    lab.runtime.require(RUNTIME)
    return lab.frontend.create(RUNTIME)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A Jupyter server under PREFIX: (its origin, the headers that carry its token)."""
    folder: Path = tmp_path_factory.mktemp("jupyter")
    port, token = _free_port(), secrets.token_hex(16)
    argv = [
        sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
        "--ip=127.0.0.1", f"--ServerApp.base_url={PREFIX}", f"--ServerApp.root_dir={folder}",
        f"--IdentityProvider.token={token}", "--allow-root",
    ]  # fmt: skip
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(folder / "config"), "HOME": str(folder)}
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
    origin, headers = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}
    try:
        for _ in range(300):
            try:
                if requests.get(f"{origin}{PREFIX}api/status", headers=headers, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, (folder / "server.log").read_text()
            time.sleep(0.1)
        else:
            raise AssertionError(f"Jupyter did not start: {(folder / 'server.log').read_text()}")
        yield origin, headers
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def test_loopback_urls_go_through_the_proxy_only_under_a_hub() -> None:
    assert through_jupyter_proxy("http://127.0.0.1:8123/", PREFIX) == f"{PREFIX}proxy/8123/"
    assert (
        through_jupyter_proxy("http://localhost:9/a/b?x=1", "/user/x") == "/user/x/proxy/9/a/b?x=1"
    )
    assert through_jupyter_proxy("http://127.0.0.1:8123/", None) == "http://127.0.0.1:8123/"
    assert through_jupyter_proxy("https://d1.cloudfront.net/", PREFIX) == (
        "https://d1.cloudfront.net/"
    )


def test_the_notebook_link_opens_the_store_through_the_jupyter_server(
    store: Any, jupyter: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HUB_PREFIX_ENV, PREFIX)
    link = store.link()
    assert isinstance(link, Link) and link.url == store.url
    port = int(store.url.rsplit(":", 1)[1].split("/")[0])
    assert link.viewer_url == f"{PREFIX}proxy/{port}/"
    assert f'href="{link.viewer_url}"' in link._repr_html_()

    origin, headers = jupyter
    page = requests.get(origin + link.viewer_url, headers=headers, timeout=30)
    assert page.status_code == 200, page.text[:500]
    assert '<script src="app.js"' in page.text
    # The distribution's response-headers policy comes through the proxy too.
    assert page.headers["x-frame-options"] == "DENY"

    # What the page's script asks, relative to the page: the store's API through the mesh.
    api = requests.get(origin + link.viewer_url + "api/", headers=headers, timeout=30)
    assert api.status_code == 200, api.text[:500]
    assert api.headers["content-type"].startswith("application/json")
    assert "store" in api.text

    # Without the Jupyter server's token, its proxy lets nobody through.
    anonymous = requests.get(origin + link.viewer_url, timeout=30, allow_redirects=False)
    assert anonymous.status_code in (302, 401, 403)
