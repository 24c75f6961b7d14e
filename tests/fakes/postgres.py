"""A throwaway PostgreSQL server for the tests and benches: real, on loopback, gone after.

Owns ``PostgresServer``: ``initdb`` on a fresh temporary folder, ``pg_ctl start`` on
127.0.0.1 and a free port (no Unix socket, ``fsync=off``: nothing here needs to survive a
power cut), ``trust`` login for the ``postgres`` user (only this machine's loopback can
reach it; ``PASSWORD_USER`` alone must give a password), ``stop``/``start`` again (the
tests of a database that goes away) and ``destroy``. ``initdb`` and ``pg_ctl`` refuse to
run as root; as root (the CI) they run as the ``postgres`` user through ``runuser``, on a
folder given to that user. Never touches a database it did not create.

``find_binaries`` says where ``initdb`` is, or why there is none; ``missing_reason`` is
what a test skips with (and, under ``CI=true``, fails with: CI must run them).

Used by ``tests/conftest.py`` (the ``postgres_server`` and ``database_url`` fixtures) and
by ``bench/storage.py``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PASSWORD", "PASSWORD_USER", "PostgresServer", "find_binaries", "missing_reason"]

_SYSTEM_USER = "postgres"
PASSWORD_USER = "pw_user"
"""The one role that must give a password (scram-sha-256); ``postgres`` is trusted."""
PASSWORD = "S3cret-pw"


def find_binaries() -> Path | None:
    """Return the folder holding ``initdb`` and ``pg_ctl``, or None when there is none."""
    found = shutil.which("initdb")
    candidates = [found] if found else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    for candidate in candidates:
        folder = Path(candidate).resolve().parent
        if (folder / "pg_ctl").exists():
            return folder
    return None


def missing_reason() -> str | None:
    """Say why no PostgreSQL can be started here, or None when one can."""
    if find_binaries() is None:
        return (
            "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under "
            "/usr/lib/postgresql: install Debian's postgresql package to run these tests"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(_SYSTEM_USER)
        except KeyError:
            return "running as root, and there is no 'postgres' user to run initdb as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """One throwaway PostgreSQL cluster; ``url(name)`` reaches a database of it."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ecs-pg-")))
    port: int = field(default_factory=_free_port)
    running: bool = False
    _version: int | None = None

    @property
    def data(self) -> Path:
        """Return the cluster's data folder."""
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        """Return the URL of ``database`` on this server (the ``postgres`` user, no password)."""
        return f"postgresql://{_SYSTEM_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        folder = find_binaries()
        if folder is None:
            raise RuntimeError(missing_reason() or "no PostgreSQL")
        command = [str(folder / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", _SYSTEM_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}{tail}")

    def init(self) -> None:
        """Create the cluster (once)."""
        if os.geteuid() == 0:
            user = pwd.getpwnam(_SYSTEM_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        os.chmod(self.root, 0o700)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            _SYSTEM_USER,
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C",
        )
        # One role logs in with a password (the tests of the password sources); the rest trust.
        hba = self.data / "pg_hba.conf"
        hba.write_text(
            f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n" + hba.read_text(),
            encoding="utf-8",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.running = True

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back what runs, close every connection)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def psql(self, sql: str, *, database: str = "postgres") -> str:
        """Run ``sql`` with psql as the ``postgres`` user; return what it printed."""
        folder = find_binaries()
        psql = folder / "psql" if folder and (folder / "psql").exists() else "psql"
        done = subprocess.run(
            [str(psql), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.url(database)],
            input=sql,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed on {sql!r}: {done.stderr}")
        return done.stdout

    def create_database(self, *, template: str = "template0") -> str:
        """Create a new database (a copy of ``template``); return its URL."""
        name = f"t_{secrets.token_hex(6)}"
        if self._version is None:
            self._version = int(self.psql("SHOW server_version_num").strip())
        # PostgreSQL 15 copies a small database faster by its files than through the WAL.
        strategy = " STRATEGY FILE_COPY" if self._version >= 150000 else ""
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url`` (ending its connections)."""
        name = url.rsplit("/", 1)[1]
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def password_login(self, url: str) -> str:
        """Hand the database of ``url`` to ``PASSWORD_USER`` (password ``PASSWORD``); return
        the URL that logs in as that role."""
        name = url.rsplit("/", 1)[1]
        self.psql(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PASSWORD_USER}')"
            f" THEN CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{PASSWORD}'; END IF; END $$"
        )
        self.psql(f'ALTER DATABASE "{name}" OWNER TO {PASSWORD_USER}')
        self.psql(f"ALTER SCHEMA public OWNER TO {PASSWORD_USER}", database=name)
        return f"postgresql://{PASSWORD_USER}@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        """Stop the server if it runs, and remove its folder."""
        if self.running:
            with contextlib.suppress(Exception):
                self.stop(mode="immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()
