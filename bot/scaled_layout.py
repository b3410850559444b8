"""The scaled deployment's addresses (``Layout``), the settings every one of its processes
shares (``scaled_env``), and what an earlier run killed outright left running
(``stop_leftovers``). ``scaled.py`` starts and watches the processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from bot import processes as p
from bot.engines import Database

ENDPOINTS = "endpoints.scaled.yml"
DATABASES = ("rasa_tracker", "rasa_events", "shop", "actions", "metrics", "handoff")
REDIS_LOCK_DB = 1
# Set in the environment of every process of a run, with the run's folder: how the next
# run finds what a launcher killed outright (SIGKILL) left running.
MARKER = "ORBITA_SCALED_FOLDER"


@dataclass(frozen=True)
class Layout:
    """Every address of the stack. Only the balancer's and the console's are public."""

    host: str                      # where the balancer listens for customers
    rasa_port: int                 # the one address
    actions_port: int              # the action servers' balancer (loopback)
    handoff_port: int
    rasa_ports: tuple[int, ...]    # each Rasa process, on loopback
    action_ports: tuple[int, ...]  # each action server, on loopback

    @classmethod
    def for_replicas(cls, replicas: int, host: str = "127.0.0.1", rasa_port: int | None = None,
                     actions_port: int | None = None,
                     handoff_port: int | None = None) -> Layout:
        """N of each; ports not given are free loopback ports chosen now."""
        if replicas < 1:
            raise ValueError(f"--replicas must be at least 1, got {replicas}")
        return cls(host, rasa_port or p.free_port(), actions_port or p.free_port(),
                   handoff_port or p.free_port(),
                   tuple(p.free_port() for _ in range(replicas)),
                   tuple(p.free_port() for _ in range(replicas)))

    @property
    def local_host(self) -> str:
        """The balancer's interface, as reached from this machine."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104

    @property
    def url(self) -> str:
        """The one address, as reached from this machine."""
        return f"http://{self.local_host}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}"

    @property
    def handoff_url(self) -> str:
        return f"http://127.0.0.1:{self.handoff_port}"

    @property
    def rasa_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.rasa_ports]

    @property
    def action_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.action_ports]


def scaled_env(layout: Layout, database: Database, redis_port: int, token: str,
               webhook_secret: str, widget_secret: str,
               redis_host: str = "127.0.0.1") -> dict[str, str]:
    """The settings every process of the stack shares (endpoints.scaled.yml reads them)."""
    rasa_db = {"HOST": database.host, "PORT": str(database.port),
               "USERNAME": database.username, "PASSWORD": database.password}
    return {
        "ACTION_ENDPOINT_URL": f"{layout.actions_url}/webhook",
        "TRACKER_DB_DIALECT": "postgresql",
        "TRACKER_DB": "rasa_tracker",
        **{f"TRACKER_DB_{key}": value for key, value in rasa_db.items()},
        "TRACKER_DB_URL": database.url("rasa_tracker"),
        "RASA_EVENTS_DB_DIALECT": "postgresql",
        "RASA_EVENTS_DB": "rasa_events",
        **{f"RASA_EVENTS_DB_{key}": value for key, value in rasa_db.items()},
        "RASA_EVENTS_DB_URL": database.url("rasa_events"),
        "REDIS_HOST": redis_host,
        "REDIS_PORT": str(redis_port),
        "REDIS_LOCK_DB": str(REDIS_LOCK_DB),
        "SOCKETIO_REDIS_URL": f"redis://{redis_host}:{redis_port}/0",
        "SHOP_DB_URL": database.url("shop"),
        "ACTIONS_DB_URL": database.url("actions"),
        "METRICS_DB_URL": database.url("metrics"),
        "HANDOFF_DB_URL": database.url("handoff"),
        "HANDOFF_WEBHOOK_URL": f"{layout.handoff_url}/webhooks/escalations",
        "HANDOFF_WEBHOOK_SECRET": webhook_secret,
        "RASA_URL": layout.url,  # the handoff service reaches any Rasa process
        "RASA_API_TOKEN": token,
        "WIDGET_SESSION_SECRET": widget_secret,
        # nginx (bot/balancer.py) is the Rasa processes' peer: its X-Forwarded-For names the
        # client for the channels' client ids and rate limits
        "CHANNEL_TRUSTED_PROXIES": "127.0.0.1/32,::1/128",
        # nginx passes Host without the port, so same-origin cannot be told: the stack's
        # own address (the demo page) is named, unless the shop names its origins
        "WIDGET_ALLOWED_ORIGINS": os.environ.get("WIDGET_ALLOWED_ORIGINS") or layout.url,
    }


# nginx and Redis write over their environment (their process titles): found by the pid
# files they write instead, each checked against the program it must be.
PID_FILES = (("nginx/nginx.pid", b"nginx"), ("redis/redis.pid", b"redis-server"))


def leftover_pids(folder: Path) -> list[int]:
    """Processes of a run in ``folder``: marked in their environment, or in its pid files."""
    mark = f"{MARKER}={folder}".encode()
    own = {os.getpid(), os.getppid()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in own:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if mark in environ.split(b"\0"):
            found.append(int(entry.name))
    for name, program in PID_FILES:
        try:
            pid = int((folder / name).read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if program in cmdline and pid not in found and pid not in own:
            found.append(pid)
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def stop_leftovers(folder: Path, grace_seconds: float = p.STOP_GRACE_SECONDS) -> list[int]:
    """Stop what an earlier run in ``folder`` left running (SIGTERM, then SIGKILL)."""
    pids = leftover_pids(folder)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while (alive := [pid for pid in pids if _running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids
