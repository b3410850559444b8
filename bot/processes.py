"""Starting, watching and stopping the assistant's processes.

Used by ``python -m bot run`` and by the end-to-end tests, so both run the same commands.
The Rasa server runs from ``.venv-rasa``; the action server from ``.venv-services``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
RASA_ENV = ROOT / ".venv-rasa"
SERVICES_ENV = ROOT / ".venv-services"
STOP_GRACE_SECONDS = 10.0
TEST_CHANNEL_LIMITS = {"CHANNEL_CONVERSATION_MESSAGES": "100000",
                       "CHANNEL_CLIENT_MESSAGES": "100000",
                       "CHANNEL_NEW_CONVERSATIONS": "100000",
                       # every test customer is 127.0.0.1: one address's failed look-ups
                       # would lock all of them out (the per-order limit stays at its default)
                       "LOOKUP_CLIENT_MAX_FAILURES": "1000"}


class StartError(RuntimeError):
    """A process could not start; the message says which and how to fix it."""


_HANDED_OUT: set[int] = set()  # ports free_port gave this process: none is given twice


def free_port() -> int:
    """A loopback port free now and not handed out before by this process.

    The kernel may give a port back to the next ``bind(0)`` once its socket is closed, so
    two calls before either port is in use (a stack's three servers) could get the same one.
    """
    for _ in range(1000):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise StartError("no free loopback port left that was not handed out already")


def rasa_bin() -> Path:
    path = RASA_ENV / "bin" / "rasa"
    if not path.exists():
        raise StartError(f"{path} is missing: run `make setup` first")
    return path


def services_python() -> Path:
    path = SERVICES_ENV / "bin" / "python"
    return path if path.exists() else Path(sys.executable)


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    paths = [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Managed:
    """A child process whose output is copied, prefixed, to a sink."""

    name: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _pump: threading.Thread | None = None
    started_at: float = field(default_factory=time.monotonic)
    ready_at: float | None = None  # when it first answered its readiness check

    @property
    def seconds_to_ready(self) -> float | None:
        return None if self.ready_at is None else self.ready_at - self.started_at

    def start_pump(self, sink: Callable[[str], None] | None) -> None:
        def pump(stream: IO[str]) -> None:
            for line in stream:
                self.lines.append(line)
                if len(self.lines) > 2000:
                    del self.lines[:1000]
                if sink is not None:
                    sink(f"[{self.name}] {line.rstrip()}")

        assert self.process.stdout is not None
        self._pump = threading.Thread(target=pump, args=(self.process.stdout,), daemon=True)
        self._pump.start()

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, count: int = 30) -> str:
        return "".join(self.lines[-count:])

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def spawn(name: str, cmd: list[str], env: Mapping[str, str],
          sink: Callable[[str], None] | None = print, cwd: Path = ROOT) -> Managed:
    process = subprocess.Popen(
        cmd, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1, start_new_session=True,
    )
    managed = Managed(name, process)
    managed.start_pump(sink)
    return managed


def wait_http(managed: Managed, url: str, timeout: float,
              headers: Mapping[str, str] | None = None,
              ready: Callable[[bytes], bool] | None = None) -> None:
    """Poll ``url`` until it answers 200 (and ``ready(body)``), the process dies or time is up."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers=dict(headers or {}))
    while time.monotonic() < deadline:
        if not managed.alive():
            raise StartError(f"{managed.name} exited with code {managed.process.returncode}:\n"
                             f"{managed.tail()}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                body = response.read()
                if response.status == 200 and (ready is None or ready(body)):
                    managed.ready_at = time.monotonic()
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise StartError(f"{managed.name} did not become ready at {url} within {timeout:.0f} s:\n"
                     f"{managed.tail()}")


def action_server_command(port: int) -> list[str]:
    return [str(services_python()), "-m", "actions.server", "--port", str(port)]


def start_together(starters: Sequence[Callable[[], Managed]]) -> list[Managed]:
    """Start processes at the same time (each loads its models while the others do): all
    of them, or none (the ones that started are stopped again and the first error raised)."""
    with ThreadPoolExecutor(max(1, len(starters))) as pool:
        futures = [pool.submit(starter) for starter in starters]
        started: list[Managed] = []
        errors: list[BaseException] = []
        for future in futures:
            try:
                started.append(future.result())
            except BaseException as exc:  # re-raised below, after clean-up
                errors.append(exc)
    if errors:
        for managed in started:
            managed.stop()
        raise errors[0]
    return started


def start_action_server(port: int, env: Mapping[str, str],
                        sink: Callable[[str], None] | None = print) -> Managed:
    managed = spawn("actions", action_server_command(port), env, sink)
    wait_http(managed, f"http://127.0.0.1:{port}/health", timeout=60)
    return managed


def rasa_command(port: int, model: Path, token: str, env: Mapping[str, str],
                 endpoints: str = "endpoints.yml") -> list[str]:
    """``rasa run`` with the HTTP API; ``endpoints`` is a file relative to the repository."""
    return [
        str(rasa_bin()), "run", "--enable-api", "--auth-token", token,
        "--port", str(port), "--interface", env.get("RASA_HOST", "127.0.0.1"),
        "--model", str(model), "--endpoints", endpoints,
        "--credentials", "credentials.yml",
    ]


def rasa_ready(body: bytes) -> bool:
    """Whether Rasa's ``/status`` says the model is loaded."""
    return b'"model_file"' in body and b'"model_file":null' not in body


def start_rasa(port: int, model: Path, token: str, env: Mapping[str, str],
               sink: Callable[[str], None] | None = print, timeout: float = 180,
               endpoints: str = "endpoints.yml") -> Managed:
    managed = spawn("rasa", rasa_command(port, model, token, env, endpoints), env, sink)
    wait_http(managed, f"http://127.0.0.1:{port}/status?token={token}", timeout=timeout,
              ready=rasa_ready)
    return managed


def handoff_command() -> list[str]:
    """The handoff service and agent console; its port is ``HANDOFF_PORT``."""
    return [str(services_python()), "-m", "bot", "handoff"]


def start_handoff(port: int, env: Mapping[str, str],
                  sink: Callable[[str], None] | None = print) -> Managed:
    """The handoff service and agent console (``python -m bot handoff``)."""
    env = {**env, "HANDOFF_PORT": str(port)}
    managed = spawn("handoff", handoff_command(), env, sink)
    wait_http(managed, f"http://127.0.0.1:{port}/health", timeout=60)
    return managed


def handoff_env(folder: Path, handoff_port: int, rasa_port: int, token: str,
                secret: str) -> dict[str, str]:
    """Settings shared by Rasa (event broker), the action server and the handoff service."""
    return {
        "RASA_EVENTS_DB_DIALECT": "sqlite",
        "RASA_EVENTS_DB": str(folder / "events.db"),
        "RASA_EVENTS_DB_URL": f"sqlite+aiosqlite:///{folder / 'events.db'}",
        "HANDOFF_DB_URL": f"sqlite+aiosqlite:///{folder / 'handoff.db'}",
        # The service-quality record, and the stores the handoff service reads into it or
        # erases a conversation from (README, "Service quality").
        "METRICS_DB_URL": f"sqlite+aiosqlite:///{folder / 'metrics.db'}",
        "ACTIONS_DB_URL": f"sqlite+aiosqlite:///{folder / 'actions.db'}",
        "TRACKER_DB_DIALECT": "sqlite",
        "TRACKER_DB": str(folder / "tracker.db"),
        "HANDOFF_WEBHOOK_URL": f"http://127.0.0.1:{handoff_port}/webhooks/escalations",
        "HANDOFF_WEBHOOK_SECRET": secret,
        "RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "RASA_API_TOKEN": token,
    }


def build_knowledge(env: Mapping[str, str], sink: Callable[[str], None] | None = print) -> None:
    """Bring the knowledge index up to date (only changed articles are embedded again)."""
    managed = spawn("knowledge", [str(services_python()), "-m", "knowledge", "build"], env, sink)
    code = managed.process.wait()
    if managed._pump is not None:
        managed._pump.join(5)
    if code != 0:
        raise StartError(f"python -m knowledge build failed with code {code}:\n{managed.tail()}")


# The router's features are code (rasa_plugins/nlu): a change there needs a new model too.
TRAINING_INPUTS = ("config.yml", "domain.yml", "data", "rasa_plugins/nlu/cues.py",
                   "rasa_plugins/nlu/features.py", "rasa_plugins/nlu/decision.py")
KEPT_MODELS = 3


def training_fingerprint() -> str:
    """A hash of everything a model is trained from, and the Rasa lock it is trained with."""
    digest = hashlib.sha256()
    files = [ROOT / "requirements" / "rasa.lock"]
    for name in TRAINING_INPUTS:
        path = ROOT / name
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def train(env: Mapping[str, str], sink: Callable[[str], None] | None = print,
          out: Path = ROOT / "models") -> Path:
    """The model for the current config, domain and data: trained only if there is none.

    Models are named after ``training_fingerprint()``; Rasa 3.6 itself writes a new
    model file on every ``rasa train``, even when nothing changed.
    """
    name = f"model-{training_fingerprint()}"
    model = out / f"{name}.tar.gz"
    if model.exists():
        if sink is not None:
            sink(f"[train] {model.name} matches config, domain and data: not retraining")
        return model
    managed = spawn("train", [str(rasa_bin()), "train", "--out", str(out), "--fixed-model-name",
                              name, "--num-threads", env.get("RASA_NUM_THREADS", "2")],
                    env, sink)
    code = managed.process.wait()
    if managed._pump is not None:
        managed._pump.join(5)
    if code != 0 or not model.exists():
        raise StartError(f"rasa train failed with code {code}:\n{managed.tail()}")
    for old in sorted(out.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)[:-KEPT_MODELS]:
        old.unlink()
    return model


def newest_model(folder: Path = ROOT / "models") -> Path:
    """The model for the current training data, else the newest one there is."""
    current = folder / f"model-{training_fingerprint()}.tar.gz"
    if current.exists():
        return current
    models = sorted(folder.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise StartError(f"no trained model in {folder}: run `make run` or `make train`")
    return models[-1]


@dataclass
class Stack:
    """A running assistant: Rasa and the action server, with their own databases."""

    url: str
    token: str
    folder: Path
    rasa: Managed
    actions: Managed
    handoff: Managed
    handoff_url: str
    env: dict[str, str]
    sink: Callable[[str], None] | None = None

    def stop(self) -> None:
        self.handoff.stop()
        self.rasa.stop()
        self.actions.stop()

    def restart_handoff(self) -> None:
        self.handoff.stop()
        port = int(self.handoff_url.rsplit(":", 1)[1])
        self.handoff = start_handoff(port, self.env, sink=self.sink)


def start_stack(folder: Path, fixed_now: str | None = None,
                sink: Callable[[str], None] | None = None,
                extra_env: Mapping[str, str] | None = None, rasa_port: int | None = None) -> Stack:
    """Start the assistant on free loopback ports with SQLite files in ``folder``.

    ``rasa_port`` fixes Rasa's port, for settings that must name it before it starts
    (the Telegram webhook URL)."""
    action_port, handoff_port = free_port(), free_port()
    rasa_port = rasa_port or free_port()
    token = "local-" + os.urandom(12).hex()
    settings = {
        **handoff_env(folder, handoff_port, rasa_port, token, "test-" + os.urandom(16).hex()),
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "TRACKER_DB_DIALECT": "sqlite",
        "TRACKER_DB": str(folder / "tracker.db"),
        "SHOP_DB_URL": f"sqlite+aiosqlite:///{folder / 'shop.db'}",
        "ACTIONS_DB_URL": f"sqlite+aiosqlite:///{folder / 'actions.db'}",
        "WIDGET_SESSION_SECRET": "test-" + os.urandom(16).hex(),
        # Tests and benchmarks send many conversations from loopback: the channels' rate
        # limits (rasa_plugins/channels/rate_limits.py) and the per-client look-up throttle
        # are set out of their way; a test of the limits sets its own in extra_env.
        **TEST_CHANNEL_LIMITS,
        "LOG_LEVEL": "WARNING",
        **({"ASSISTANT_FIXED_NOW": fixed_now} if fixed_now else {}),
        **(extra_env or {}),
    }
    env = base_env(settings)
    try:
        model = newest_model()
    except StartError:
        model = train(env, sink=sink)
    build_knowledge(env, sink=sink)
    actions, rasa, handoff = start_together([
        lambda: start_action_server(action_port, env, sink=sink),
        lambda: start_rasa(rasa_port, model, token, env, sink=sink),
        lambda: start_handoff(handoff_port, env, sink=sink)])
    return Stack(f"http://127.0.0.1:{rasa_port}", token, folder, rasa, actions, handoff,
                 f"http://127.0.0.1:{handoff_port}", env, sink)
