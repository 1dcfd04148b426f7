"""A throwaway PostgreSQL server for one test session: initdb in a temp dir, serve on loopback, stop at the end.

Only the server binaries are needed, no running system service (Debian's `postgresql` package puts them in
/usr/lib/postgresql/<version>/bin). initdb and postgres refuse to run as root, so as root both run as the
`postgres` system user (or `nobody`) in a temp dir that user owns. Anything that stops the server from
starting raises PostgresUnavailable, whose message is the reason the PostgreSQL tests are skipped.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "ftbot"  # the cluster's superuser; loopback connections are trusted, so no password
# A test server keeps nothing: skip every durability cost, which is most of a small server's time.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
# The C locale exists everywhere (LANG may name one that is not installed); --no-sync for the same reason as above.
INITDB_OPTIONS = ("--locale=C", "--encoding=UTF8", "--no-sync")
INSTALL_HINT = "apt-get install postgresql"


class PostgresUnavailable(Exception):
    """No server could be started here; the message says why (and how to fix it)."""


@dataclass
class PostgresServer:
    """A running server on 127.0.0.1:port; create_database() hands each test its own database."""

    bin_dir: Path
    root: Path  # the temp dir holding the data directory, the socket and the log
    port: int
    run_as: pwd.struct_passwd | None  # None: the server runs as the current (unprivileged) user
    version: str = ""
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str = "template0", name: str | None = None) -> str:
        """A new database copied from `template` (template0 is empty); returns its name."""
        name = name or f"test_{next(self._names)}"
        self._admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop a test's database, ending any connection a test left open (FORCE)."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        """Stop the server (nothing to keep, so no clean shutdown) and delete its files."""
        with contextlib.suppress(PostgresUnavailable):  # already gone: nothing to stop
            _run(self, "pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def _admin(self, statement: sql.Composed) -> None:
        # CREATE/DROP DATABASE can't run in a transaction block: autocommit, from the maintenance database.
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres") as connection:
            connection.autocommit = True
            connection.execute(statement)


def start() -> PostgresServer:
    """initdb a fresh cluster in a temp dir and start it on a free loopback port; raises PostgresUnavailable."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(f"initdb not found ({INSTALL_HINT})")
    run_as = _unprivileged_user() if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="ftbot-pg-"))
    if run_as is not None:
        os.chown(root, run_as.pw_uid, run_as.pw_gid)
    server = PostgresServer(bin_dir, root, _free_port(), run_as)
    try:
        _run(server, "initdb", "-D", str(root / "data"), "-U", SUPERUSER, "-A", "trust", *INITDB_OPTIONS)
        _run(server, *_pg_ctl_start(server))
        # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        server.version = _run(server, "postgres", "--version").split()[2]
    except PostgresUnavailable:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def find_bin_dir() -> Path | None:
    """The directory holding initdb and pg_ctl: initdb's on PATH, else Debian's newest /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(debian, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0, reverse=True)
    return next((d for d in candidates if (d / "initdb").is_file() and (d / "pg_ctl").is_file()), None)


def _unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root, and neither a 'postgres' nor a 'nobody' user exists to run initdb")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pg_ctl_start(server: PostgresServer) -> list[str]:
    options = [f"-c listen_addresses=127.0.0.1 -p {server.port} -k {server.root}"]
    options += [f"-c {setting}" for setting in FAST_SETTINGS]
    data, log = server.root / "data", server.root / "server.log"
    return ["pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", " ".join(options), "start"]


def _run(server: PostgresServer, program: str, *args: str) -> str:
    """Run one of the server's programs, as the unprivileged user when we are root; its output, or raise."""
    who = server.run_as
    try:
        done = subprocess.run(
            [str(server.bin_dir / program), *args],
            cwd=server.root,  # the user may not be allowed into ours (root's home)
            capture_output=True,
            text=True,
            timeout=120,
            user=who.pw_uid if who else None,
            group=who.pw_gid if who else None,
            extra_groups=[] if who else None,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise PostgresUnavailable(f"{program} could not run: {error}") from error
    if done.returncode != 0:
        log = server.root / "server.log"
        output = (done.stderr or done.stdout) + (log.read_text() if log.exists() else "")
        last_lines = [line.strip() for line in output.splitlines() if line.strip()][-4:]
        raise PostgresUnavailable(f"{program} failed: {' | '.join(last_lines)}")  # one line: it is a skip reason
    return done.stdout
