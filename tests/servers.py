"""Real servers for the tests, from the Debian packages that ``scripts/test_servers.sh``
installs (``make test`` runs it before pytest):

* a throwaway PostgreSQL cluster: its own data folder in /tmp, loopback only, a free port,
  trust authentication, fsync off; stopped and deleted again at the end;
* Debian's Chromium, driven by Playwright's sync API. Playwright never downloads a browser
  here: it is always launched with ``executable_path``;
* the Telegram Bot API emulator (tests/telegram/emulator.js, on Node; its npm packages are
  installed by the same script) on a free port.

As root, ``initdb`` refuses to run, so the cluster then belongs to the ``postgres`` system
user (created by the Debian package) and its commands run through ``runuser`` (or ``su``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from playwright.sync_api import Browser

INSTALL_HINT = "run `bash scripts/test_servers.sh` (make test runs it) to install it from Debian"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
POSTGRES_ROOT = Path("/usr/lib/postgresql")
TELEGRAM_EMULATOR = Path(__file__).resolve().parent / "telegram" / "emulator.js"
POSTGRES_TOOLS = ("initdb", "pg_ctl", "postgres", "createdb")


class ServerMissing(RuntimeError):
    """A server the tests need is not installed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- PostgreSQL ------------------------------------------------------------------------------

def postgres_bin_dir(root: Path = POSTGRES_ROOT) -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has the server's programs."""
    candidates = []
    for bin_dir in root.glob("*/bin"):
        version = bin_dir.parent.name
        if version.isdigit() and all(os.access(bin_dir / tool, os.X_OK)
                                     for tool in POSTGRES_TOOLS):
            candidates.append((int(version), bin_dir))
    if not candidates:
        raise ServerMissing(f"no PostgreSQL server under {root}/<version>/bin "
                            f"(needs {', '.join(POSTGRES_TOOLS)}): {INSTALL_HINT}")
    return max(candidates)[1]


@dataclass
class PostgresCluster:
    """A running throwaway cluster; ``stop`` ends it and deletes its folder."""

    root: Path
    bin_dir: Path
    port: int
    database: str
    owner: str | None  # the system user that runs the server, when we are root

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{self.database}"

    def run(self, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run one of the server's programs as the cluster's owner."""
        cmd = [str(arg) for arg in args]
        if self.owner is not None:
            if shutil.which("runuser"):
                cmd = ["runuser", "-u", self.owner, "--", *cmd]
            else:
                cmd = ["su", self.owner, "-s", "/bin/sh", "-c", shlex.join(cmd)]
        return subprocess.run(cmd, cwd=self.root, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def pg_ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.run(self.bin_dir / "pg_ctl", "-D", self.data, *args, timeout=timeout)

    def stop(self) -> None:
        """Stop the server (fast, then immediate, then SIGKILL) and delete the folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                for mode in ("fast", "immediate"):
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        if self.pg_ctl("stop", "-m", mode, "-w", "-t", "30",
                                       timeout=60).returncode == 0:
                            break
                else:
                    self._kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)


def _fail(step: str, result: subprocess.CompletedProcess[str], log: Path | None = None) -> NoReturn:
    details = (result.stdout + result.stderr).strip()
    if log is not None and log.exists():
        details += "\n--- server log ---\n" + log.read_text(errors="replace")[-4000:]
    raise RuntimeError(f"PostgreSQL {step} failed (exit {result.returncode}):\n{details}")


def start_postgres(database: str = "handoff_test", *, attempts: int = 3) -> PostgresCluster:
    """Start a throwaway cluster with one empty database; the caller must ``stop`` it."""
    bin_dir = postgres_bin_dir()
    owner: str | None = None
    if os.geteuid() == 0:
        owner = "postgres"
        try:
            account = pwd.getpwnam(owner)
        except KeyError:
            raise ServerMissing(f"running as root, but there is no `{owner}` system user to "
                                f"run PostgreSQL as: {INSTALL_HINT}") from None
    # As root the folder goes to /tmp itself (TMPDIR may point into /root, which the
    # postgres user cannot enter); mkdtemp makes it 0700 with a fresh name, then hands it over.
    tmp = "/tmp" if owner else None  # noqa: S108
    root = Path(tempfile.mkdtemp(prefix="pg-test-", dir=tmp))
    if owner:
        os.chown(root, account.pw_uid, account.pw_gid)
    cluster = PostgresCluster(root, bin_dir, 0, database, owner)
    try:
        result = cluster.run(bin_dir / "initdb", "-D", cluster.data, "-U", "postgres",
                             "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync",
                             "--no-instructions")
        if result.returncode != 0:
            _fail("initdb", result)
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\n# throwaway test cluster (tests/servers.py)\n"
                       f"listen_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{root}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        for attempt in range(1, attempts + 1):  # the free port may be taken in between
            cluster.port = free_port()
            result = cluster.pg_ctl("start", "-w", "-t", "60", "-l", str(cluster.log),
                                    "-o", f"-p {cluster.port}")
            if result.returncode == 0:
                break
            if attempt == attempts:
                _fail("start", result, cluster.log)
        result = cluster.run(bin_dir / "createdb", "-h", "127.0.0.1", "-p", str(cluster.port),
                             "-U", "postgres", database)
        if result.returncode != 0:
            _fail("createdb", result, cluster.log)
    except BaseException:
        cluster.stop()
        raise
    return cluster


# --- Chromium through Playwright -------------------------------------------------------------

def chromium_path() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        raise ServerMissing(f"no Chromium at {CHROMIUM}: {INSTALL_HINT}")
    return str(CHROMIUM)


def _contain_playwright_loop() -> None:
    """Make Playwright's event loop count as *running* only during a sync call.

    The sync API runs its own asyncio loop in a greenlet and, in this thread, leaves that
    loop marked as running between calls (``wait_for_future`` in
    ``playwright/_impl/_greenlets.py``). While a session-wide browser is open, every later
    asyncio test would then fail with "Runner.run() cannot be called from a running event
    loop". This wraps the wait of every sync call: the loop is marked running while the call
    waits (the dispatcher needs it) and the previous state is put back when it returns.
    """
    from playwright._impl import _sync_base

    original = getattr(_sync_base, "wait_for_future", None)
    if original is None:
        raise RuntimeError("playwright._impl._sync_base.wait_for_future is gone: this "
                           "Playwright release differs from the pinned one; update "
                           "tests/servers.py (_contain_playwright_loop)")
    if hasattr(original, "__wrapped__"):  # done already
        return

    @functools.wraps(original)
    def wait_for_future(loop: asyncio.AbstractEventLoop, dispatcher_fiber: Any,
                        future: Any) -> None:
        __tracebackhide__ = True
        previous = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(loop)
        try:
            original(loop, dispatcher_fiber, future)
        finally:
            asyncio.events._set_running_loop(previous)

    _sync_base.wait_for_future = wait_for_future


@contextlib.contextmanager
def chromium_browser(executable: str, *, args: list[str] | None = None) -> Iterator[Browser]:
    """Headless Chromium at ``executable``, through Playwright's sync API.

    Use it from sync code only (sync tests and fixtures): the sync API refuses to run
    inside a running asyncio loop.
    """
    from playwright.sync_api import sync_playwright

    if asyncio.events._get_running_loop() is not None:
        raise RuntimeError("Playwright's sync API cannot run inside a running asyncio loop: "
                           "use the browser from sync tests and fixtures")
    _contain_playwright_loop()
    playwright = sync_playwright().start()
    loop = asyncio.events._get_running_loop()  # Playwright's own, left marked as running
    asyncio.events._set_running_loop(None)
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True,
            args=CHROMIUM_ARGS if args is None else args, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        asyncio.events._set_running_loop(loop)  # stop() runs the loop to its end
        try:
            playwright.stop()
        finally:
            asyncio.events._set_running_loop(None)


# --- Telegram Bot API emulator ---------------------------------------------------------------

@dataclass
class TelegramEmulator:
    """A running emulator; the bot's API base URL is ``url`` (``<url>/bot<token>/<method>``)."""

    process: subprocess.Popen[str]
    port: int
    output: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_telegram_emulator(*, port: int | None = None, attempts: int = 3,
                            timeout: float = 30) -> TelegramEmulator:
    """Start tests/telegram/emulator.js on ``port`` or a free one; the caller must ``stop`` it."""
    node = shutil.which("node")
    if node is None:
        raise ServerMissing("no `node` on PATH for the Telegram emulator: install Node.js 18+ "
                            "(Debian: apt-get install nodejs npm)")
    if not (TELEGRAM_EMULATOR.parent / "node_modules" / "telegram-test-api").is_dir():
        raise ServerMissing(f"the emulator's npm packages are missing in "
                            f"{TELEGRAM_EMULATOR.parent}: {INSTALL_HINT}")
    for attempt in range(1, attempts + 1):  # the free port may be taken in between
        chosen = port or free_port()
        process = subprocess.Popen([node, str(TELEGRAM_EMULATOR), str(chosen)],
                                   cwd=TELEGRAM_EMULATOR.parent, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1)
        output: list[str] = []
        ready = threading.Event()

        def pump(stream: Any, lines: list[str] = output, flag: threading.Event = ready) -> None:
            for line in stream:
                lines.append(line.rstrip())
                if "telegram emulator ready" in line:
                    flag.set()

        threading.Thread(target=pump, args=(process.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.is_set() and process.poll() is None and time.monotonic() < deadline:
            ready.wait(0.1)
        emulator = TelegramEmulator(process, chosen, output)
        if ready.is_set():
            return emulator
        emulator.stop()
        if attempt == attempts:
            raise RuntimeError("the Telegram emulator did not start:\n" + "\n".join(output))
    raise AssertionError("unreachable")


# --- Redis -----------------------------------------------------------------------------------

@dataclass
class RedisServer:
    """A throwaway Redis on loopback: no persistence, gone when stopped."""

    process: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redis(*, attempts: int = 3, timeout: float = 15) -> RedisServer:
    """Debian's redis-server on a free port; the caller must ``stop`` it."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise ServerMissing(f"redis-server is not installed: {INSTALL_HINT}")
    for attempt in range(1, attempts + 1):  # the free port may be taken in between
        port = free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", tempfile.gettempdir()],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, text=True)
        server = RedisServer(process, port)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            if server.ping():
                return server
            time.sleep(0.1)
        server.stop()
        if attempt == attempts:
            raise RuntimeError(f"redis-server did not start on port {port}")
    raise AssertionError("unreachable")
