"""PostgreSQL, Redis and nginx from Debian, for the scaled stack (``python -m bot run-scaled``).

``install`` runs ``scripts/debian_servers.sh`` (apt-get, idempotent: nothing happens when
they are installed). Each server then runs with its data in a folder of its own under
``var/scaled/``, on loopback, started and stopped by the launcher:

* PostgreSQL: a cluster of its own (``initdb`` once), password authentication for one
  superuser whose password is kept in ``var/scaled/postgres-password`` (mode 600), the
  databases created when missing; started with ``pg_ctl`` and stopped with a fast
  shutdown. As root, ``initdb`` refuses to run, so the cluster then belongs to the
  ``postgres`` system user (created by the Debian package) and runs through ``runuser``.
* Redis: no persistence (it holds Rasa's conversation locks and socket.io's messages
  between processes, nothing that must outlive a restart).
* nginx: in the foreground with the configuration of ``bot.balancer``.
"""

from __future__ import annotations

import functools
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.processes import ROOT, Managed, StartError, spawn

INSTALLER = ROOT / "scripts" / "debian_servers.sh"
POSTGRES_ROOT = Path("/usr/lib/postgresql")
POSTGRES_TOOLS = ("initdb", "pg_ctl", "postgres", "createdb", "psql")
REDIS_SERVER = Path("/usr/bin/redis-server")
NGINX = Path("/usr/sbin/nginx")


def install(servers: Iterable[str] = ("postgresql", "redis", "nginx"),
            sink: Callable[[str], None] | None = print) -> None:
    """Install the missing servers from Debian (needs root or sudo when one is missing)."""
    result = subprocess.run(["/bin/bash", str(INSTALLER), *servers], capture_output=True,
                            text=True, check=False)
    for line in (result.stdout + result.stderr).splitlines():
        if sink is not None:
            sink(f"[install] {line}")
    if result.returncode != 0:
        raise StartError(f"{INSTALLER.relative_to(ROOT)} failed (exit {result.returncode}): "
                         f"install {', '.join(servers)} from Debian by hand")


def postgres_bin_dir(root: Path = POSTGRES_ROOT) -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has the server's programs."""
    found = [(int(d.parent.name), d) for d in root.glob("*/bin") if d.parent.name.isdigit()
             and all(os.access(d / tool, os.X_OK) for tool in POSTGRES_TOOLS)]
    if not found:
        raise StartError(f"no PostgreSQL server under {root}: run "
                         f"`bash {INSTALLER.relative_to(ROOT)} postgresql`")
    return max(found)[1]


@dataclass(frozen=True)
class Database:
    """Where the scaled stack's databases are, and how to log in."""

    host: str
    port: int
    username: str
    password: str

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        """A SQLAlchemy URL (asyncpg for the services; the password is URL-safe)."""
        login = f"{self.username}:{self.password}" if self.password else self.username
        return f"{driver}://{login}@{self.host}:{self.port}/{database}"


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in ``folder`` (its ``data`` and ``server.log``)."""

    folder: Path
    port: int
    password: str
    username: str = "orbita"
    max_connections: int = 300

    @functools.cached_property
    def bin_dir(self) -> Path:
        return postgres_bin_dir()

    @property
    def owner(self) -> str | None:
        """The system user that runs the server: ``postgres`` when we are root."""
        return "postgres" if os.geteuid() == 0 else None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    @property
    def database(self) -> Database:
        return Database("127.0.0.1", self.port, self.username, self.password)

    def _run(self, *args: str | Path, timeout: float = 120,
             input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """One of the server's programs, as the cluster's owner."""
        cmd = [str(arg) for arg in args]
        if self.owner is not None:
            cmd = (["runuser", "-u", self.owner, "--", *cmd] if shutil.which("runuser")
                   else ["su", self.owner, "-s", "/bin/sh", "-c", shlex.join(cmd)])
        return subprocess.run(cmd, cwd=self.folder, capture_output=True, text=True,
                              timeout=timeout, check=False, input=input_text)

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(self.bin_dir / "pg_ctl", "-D", self.data, *args)

    def _prepare_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        if self.owner is not None:
            account = pwd.getpwnam(self.owner)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            for parent in self.folder.parents:  # the owner must be able to reach it
                if parent == Path("/"):
                    break
                if not os.stat(parent).st_mode & 0o001:
                    raise StartError(f"the {self.owner} user cannot enter {parent}: make it "
                                     "world-executable (chmod o+x) or move the checkout")

    def ensure_cluster(self) -> bool:
        """Create the cluster if there is none yet; whether it was created now."""
        if (self.data / "PG_VERSION").exists():
            return False
        self._prepare_folder()
        password_file = self.folder / "initdb-password"
        password_file.write_text(self.password + "\n")
        password_file.chmod(0o600)
        if self.owner is not None:
            account = pwd.getpwnam(self.owner)
            os.chown(password_file, account.pw_uid, account.pw_gid)
        try:
            result = self._run(self.bin_dir / "initdb", "-D", self.data, "-U", self.username,
                               f"--pwfile={password_file}", "--auth-local=scram-sha-256",
                               "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C",
                               "--no-instructions")
        finally:
            password_file.unlink(missing_ok=True)
        if result.returncode != 0:
            raise StartError(f"initdb in {self.data} failed:\n{result.stdout}{result.stderr}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# the scaled stack (bot/engines.py): loopback only, room for the\n"
                       "# connection pools of every Rasa and action-server process\n"
                       "listen_addresses = '127.0.0.1'\n"
                       f"max_connections = {self.max_connections}\n")
        return True

    def running(self) -> bool:
        return self._pg_ctl("status").returncode == 0

    def start(self) -> None:
        """Start the cluster and wait for it (one a crashed run left running is restarted
        with this run's options)."""
        if self.running():
            self.stop()
        result = self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log),
                              "-o", f"-p {self.port} -k {self.folder}")
        if result.returncode != 0:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise StartError(f"PostgreSQL did not start on port {self.port} (is the port "
                             f"taken? --postgres-port): {result.stdout}{result.stderr}\n{tail}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60")


def create_databases(database: Database, names: Iterable[str],
                     bin_dir: Path | None = None) -> list[str]:
    """Create the databases that do not exist yet (over TCP, as ``database.username``)."""
    bin_dir = bin_dir or postgres_bin_dir()
    env = {**os.environ, "PGPASSWORD": database.password, "PGCONNECT_TIMEOUT": "10"}
    login = ["-h", database.host, "-p", str(database.port), "-U", database.username]
    listed = subprocess.run([str(bin_dir / "psql"), *login, "-d", "postgres", "-tAc",
                             "SELECT datname FROM pg_database"], env=env, capture_output=True,
                            text=True, check=False, timeout=60)
    if listed.returncode != 0:
        raise StartError(f"cannot list PostgreSQL's databases: {listed.stderr.strip()}")
    existing = set(listed.stdout.split())
    created = []
    for name in names:
        if name in existing:
            continue
        result = subprocess.run([str(bin_dir / "createdb"), *login, name], env=env,
                                capture_output=True, text=True, check=False, timeout=60)
        if result.returncode != 0:
            raise StartError(f"createdb {name} failed: {result.stderr.strip()}")
        created.append(name)
    return created


def redis_ping(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(folder: Path, port: int, env: Mapping[str, str],
                sink: Callable[[str], None] | None = print, timeout: float = 15) -> Managed:
    """Debian's redis-server in the foreground on 127.0.0.1:``port``, no persistence."""
    if not REDIS_SERVER.exists():
        raise StartError(f"{REDIS_SERVER} is missing: run `bash {INSTALLER.relative_to(ROOT)} "
                         "redis`")
    if redis_ping(port):
        raise StartError(f"something answers PING on port {port} already: stop it or choose "
                         "another --redis-port")
    folder.mkdir(parents=True, exist_ok=True)
    managed = spawn("redis", [str(REDIS_SERVER), "--port", str(port), "--bind", "127.0.0.1",
                              "--protected-mode", "yes", "--save", "", "--appendonly", "no",
                              "--daemonize", "no", "--dir", str(folder),
                              "--pidfile", str(folder / "redis.pid")], env, sink)
    deadline = time.monotonic() + timeout
    while not redis_ping(port):
        if not managed.alive() or time.monotonic() > deadline:
            managed.stop()
            raise StartError(f"redis-server did not start on port {port}:\n{managed.tail()}")
        time.sleep(0.1)
    return managed


def ensure_free(host: str, port: int, setting: str) -> None:
    """StartError naming ``setting`` when something listens on ``host:port`` already."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise StartError(f"port {port} on {host} is taken ({exc.strerror}): stop what "
                             f"listens there or choose another {setting}") from None


def wait_listening(managed: Managed, host: str, port: int, timeout: float = 10) -> None:
    """Wait until ``managed`` accepts connections on ``port``; StartError if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            pass
        if not managed.alive() or time.monotonic() > deadline:
            managed.stop()
            raise StartError(f"{managed.name} is not listening on port {port} (is the port "
                             f"taken?):\n{managed.tail()}")
        time.sleep(0.05)


def nginx_binary() -> Path:
    if not NGINX.exists():
        raise StartError(f"{NGINX} is missing: run `bash {INSTALLER.relative_to(ROOT)} nginx`")
    return NGINX
