"""``python -m bot run-scaled --replicas N``: the assistant on N Rasa and N action servers.

One address (nginx, ``bot.balancer``) spreads customers' requests over N Rasa processes
and Rasa's action calls over N action servers; every process shares PostgreSQL (Rasa's
tracker store and event broker table, the demo shop, the action server's records, the
metrics, the handoff queue) and Redis (Rasa's conversation locks, socket.io between
processes), so any process can take any turn of any conversation. One handoff service
serves the agent console. PostgreSQL, Redis and nginx come from Debian (``bot.engines``),
with their data in ``var/scaled/``.

Start-up: nginx first (it skips processes that are not listening yet), then the tables
are created once (``bot.scaled_tables``: N processes creating them at the same moment
would race) and the demo shop seeded once, then every Rasa process, action server and the
handoff service start at the same time. A Rasa or action-server process that dies is
started again while the others carry on; any other process dying stops the stack.
"""

from __future__ import annotations

import argparse
import functools
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from pathlib import Path

from bot import balancer, engines
from bot import processes as p
from bot.engines import Database
from bot.scaled_layout import (
    DATABASES,
    ENDPOINTS,
    MARKER,
    REDIS_LOCK_DB,
    Layout,
    scaled_env,
    stop_leftovers,
)

__all__ = [
    "DATABASES", "ENDPOINTS", "MARKER", "REDIS_LOCK_DB", "Layout", "ScaledStack",
    "Spec", "add_command", "run", "scaled_env", "stop_leftovers",
]

SCALED = p.ROOT / "var" / "scaled"
START_TIMEOUT_SECONDS = 300.0   # N heavy processes load at the same time on a few cores
RESTARTS_PER_PROCESS = 5        # a replica failing more often than this stops the stack
Sink = Callable[[str], None] | None


def log(message: str) -> None:
    print(f"[scaled] {message}", flush=True)


@dataclass(frozen=True)
class Spec:
    """How to start one process and tell that it is ready."""

    cmd: list[str]
    env: dict[str, str]
    ready_url: str
    ready: Callable[[bytes], bool] | None = None


@dataclass
class ScaledStack:
    """The running processes; ``start`` brings them up, ``stop`` ends them all."""

    layout: Layout
    env: dict[str, str]
    model: Path
    token: str
    folder: Path                    # nginx's configuration and temp folders
    sink: Sink = print
    access_log: Path | None = None  # the balancer's access log (tests), else none
    children: dict[str, p.Managed] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds each took to start
    stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what runs ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.layout.url

    @property
    def rasa_names(self) -> list[str]:
        return [f"rasa-{i}" for i in range(1, len(self.layout.rasa_ports) + 1)]

    @property
    def action_names(self) -> list[str]:
        return [f"actions-{i}" for i in range(1, len(self.layout.action_ports) + 1)]

    def spec(self, name: str) -> Spec:
        kind, _, number = name.partition("-")
        if kind == "rasa":
            port = self.layout.rasa_ports[int(number) - 1]
            env = {**self.env, "RASA_HOST": "127.0.0.1"}  # only the balancer is public
            return Spec(p.rasa_command(port, self.model, self.token, env, ENDPOINTS), env,
                        f"http://127.0.0.1:{port}/status?token={self.token}", p.rasa_ready)
        if kind == "actions":
            port = self.layout.action_ports[int(number) - 1]
            # Seeded once before they start (bot.scaled_tables), never by N at once.
            env = {**self.env, "SHOP_SEED_ON_START": "false"}
            return Spec(p.action_server_command(port), env, f"http://127.0.0.1:{port}/health")
        if name == "handoff":
            env = {**self.env, "HANDOFF_PORT": str(self.layout.handoff_port)}
            return Spec(p.handoff_command(), env, f"{self.layout.handoff_url}/health")
        raise ValueError(f"no process called {name}")

    def _spawn(self, name: str, cmd: list[str], env: Mapping[str, str]) -> p.Managed:
        with self._lock:
            if self.stopping.is_set():
                raise p.StartError(f"{name} not started: the stack is stopping")
            managed = p.spawn(name, cmd, env, self.sink)
            self.children[name] = managed
        return managed

    def start_process(self, name: str) -> p.Managed:
        """Start one process and wait until it is ready (a failed one is stopped)."""
        started = time.monotonic()
        spec = self.spec(name)
        managed = self._spawn(name, spec.cmd, spec.env)
        try:
            p.wait_http(managed, spec.ready_url, START_TIMEOUT_SECONDS, ready=spec.ready)
        except p.StartError:
            managed.stop()
            raise
        self.timings[name] = time.monotonic() - started
        return managed

    def run_once(self, name: str, cmd: list[str], env: Mapping[str, str]) -> None:
        """A command that must finish successfully before the processes start."""
        started = time.monotonic()
        managed = self._spawn(name, cmd, env)
        code = managed.process.wait()
        if managed._pump is not None:
            managed._pump.join(5)
        with self._lock:
            self.children.pop(name, None)
        if code != 0 and not self.stopping.is_set():
            raise p.StartError(f"{' '.join(cmd[1:])} failed with code {code}:\n"
                               f"{managed.tail()}")
        self.timings[name] = time.monotonic() - started

    def _all(self, calls: list[Callable[[], object]]) -> None:
        """Run the calls in threads. On the first failure (or Ctrl-C) everything is
        stopped, so the other calls end at once too, and the failure is raised."""
        pool = ThreadPoolExecutor(len(calls))
        try:
            pending: set[Future[object]] = {pool.submit(call) for call in calls}
            while pending:  # short waits, so Ctrl-C reaches the main thread at once
                done, pending = wait_futures(pending, timeout=0.5)
                for future in done:
                    future.result()
        except BaseException:
            self.stop()
            raise
        finally:
            pool.shutdown(wait=True)

    # --- start, watch, stop ---------------------------------------------------------------

    def start(self) -> None:
        """Everything up; raises StartError (after stopping what started) on failure."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        conf = balancer.write(balancer.BalancerConfig(
            self.folder, self.layout.host, self.layout.rasa_port, self.layout.rasa_ports,
            self.layout.actions_port, self.layout.action_ports, self.access_log))
        # A port that is taken shows now, not after every process has loaded.
        engines.ensure_free(self.layout.host, self.layout.rasa_port, "--port / RASA_PORT")
        engines.ensure_free("127.0.0.1", self.layout.actions_port,
                            "--actions-port / ACTIONS_PORT")
        engines.ensure_free("127.0.0.1", self.layout.handoff_port,
                            "--handoff-port / HANDOFF_PORT")
        nginx = self._spawn("nginx", balancer.command(engines.nginx_binary(), conf), self.env)
        engines.wait_listening(nginx, self.layout.local_host, self.layout.rasa_port)
        engines.wait_listening(nginx, "127.0.0.1", self.layout.actions_port)
        rasa_tables, action_tables = threading.Event(), threading.Event()

        def rasa_side() -> None:
            self.run_once("tables-rasa", [str(p.RASA_ENV / "bin" / "python"), "-m",
                                          "bot.scaled_tables", "rasa", ENDPOINTS], self.env)
            rasa_tables.set()
            self._all([functools.partial(self.start_process, name)
                       for name in self.rasa_names])

        def action_side() -> None:
            # The seed follows SHOP_SEED_ON_START (true unless the shop is a real one).
            self.run_once("tables-actions", [str(p.services_python()), "-m",
                                             "bot.scaled_tables", "actions"], self.env)
            action_tables.set()
            self._all([functools.partial(self.start_process, name)
                       for name in self.action_names])

        def handoff_side() -> None:
            # It reads Rasa's broker table and the action server's records from the start.
            while not (rasa_tables.is_set() and action_tables.is_set()):
                if self.stopping.wait(0.2):
                    return
            self.start_process("handoff")

        self._all([rasa_side, action_side, handoff_side])
        # Through the balancer: it listens and reaches a Rasa process.
        p.wait_http(nginx, f"{self.layout.url}/", timeout=30)

    def watch(self, poll_seconds: float = 1.0) -> str:
        """Keep the stack up until a process other than a replica dies; its name.

        A Rasa process or action server that dies is started again in the background
        (the balancer skips it meanwhile), up to RESTARTS_PER_PROCESS times.
        """
        restarting: dict[str, threading.Thread] = {}
        while True:
            for name, managed in list(self.children.items()):
                if managed.alive() or name in restarting:
                    continue
                if name not in (*self.rasa_names, *self.action_names):
                    return name
                count = self.restarts[name] = self.restarts.get(name, 0) + 1
                if count > RESTARTS_PER_PROCESS:
                    return name
                log(f"{name} exited with code {managed.process.returncode}; the others "
                    f"carry on, starting it again ({count} of {RESTARTS_PER_PROCESS})")
                thread = threading.Thread(target=self._restart, args=(name,), daemon=True)
                restarting[name] = thread
                thread.start()
            for name, thread in list(restarting.items()):
                if not thread.is_alive():
                    del restarting[name]
            time.sleep(poll_seconds)

    def _restart(self, name: str) -> None:
        try:
            self.start_process(name)
            log(f"{name} is back")
        except p.StartError as exc:
            if not self.stopping.is_set():
                log(f"{name} did not come back: {exc}")

    def stop(self) -> None:
        """Stop every process: the handoff service, Rasa, the action servers, nginx."""
        self.stopping.set()
        with self._lock:
            children = dict(self.children)
        groups = [["handoff", "tables-actions", "tables-rasa"], self.rasa_names,
                  self.action_names, ["nginx"]]
        for group in groups:
            running = [children[name] for name in group if name in children]
            threads = [threading.Thread(target=child.stop) for child in running]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()


def add_command(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("run-scaled", help="N Rasa and N action servers behind one address "
                                            "(PostgreSQL, Redis, nginx from Debian)")
    cmd.add_argument("--replicas", type=int, default=2,
                     help="Rasa processes, and action servers (default 2)")
    cmd.add_argument("--port", type=int, default=int(os.environ.get("RASA_PORT", "5005")),
                     help="the one address (nginx)")
    cmd.add_argument("--actions-port", type=int,
                     default=int(os.environ.get("ACTIONS_PORT", "5055")),
                     help="the action servers' balancer (nginx, loopback)")
    cmd.add_argument("--handoff-port", type=int,
                     default=int(os.environ.get("HANDOFF_PORT", "5056")))
    cmd.add_argument("--postgres-port", type=int,
                     default=int(os.environ.get("POSTGRES_PORT", "5433")))
    cmd.add_argument("--redis-port", type=int, default=int(os.environ.get("REDIS_PORT", "6380")))
    cmd.add_argument("--no-train", action="store_true", help="use the newest model as is")


def run(args: argparse.Namespace, local_secret: Callable[[str, str], str]) -> int:
    """The command: install, start, watch, and on Ctrl-C or SIGTERM stop everything.

    ``local_secret(variable, file)`` is the variable's value or one generated into var/.
    """
    started = time.monotonic()
    SCALED.mkdir(parents=True, exist_ok=True)
    layout = Layout.for_replicas(args.replicas, os.environ.get("RASA_HOST", "127.0.0.1"),
                                 args.port, args.actions_port, args.handoff_port)
    token = local_secret("RASA_API_TOKEN", "rasa-api-token")
    postgres = engines.PostgresServer(SCALED / "postgres", args.postgres_port,
                                      local_secret("POSTGRES_PASSWORD",
                                                   "scaled/postgres-password"))
    env = p.base_env(scaled_env(
        layout, postgres.database, args.redis_port, token,
        local_secret("HANDOFF_WEBHOOK_SECRET", "handoff-webhook-secret"),
        local_secret("WIDGET_SESSION_SECRET", "widget-session-secret")))
    env[MARKER] = str(SCALED)
    redis: p.Managed | None = None
    stack: ScaledStack | None = None
    try:
        engines.install(("postgresql", "redis", "nginx"))
        if left := stop_leftovers(SCALED):
            log(f"stopped {len(left)} processes an earlier run left running")
        model = p.newest_model() if args.no_train else p.train(env)
        p.build_knowledge(env)
        if postgres.ensure_cluster():
            log(f"PostgreSQL cluster created in {postgres.data}")
        postgres.start()
        created = engines.create_databases(postgres.database, DATABASES, postgres.bin_dir)
        log(f"PostgreSQL on 127.0.0.1:{postgres.port} (log {postgres.log})"
            + (f"; databases created: {', '.join(created)}" if created else ""))
        redis = engines.start_redis(SCALED / "redis", args.redis_port, env)
        log(f"Redis on 127.0.0.1:{args.redis_port}; starting {args.replicas} Rasa processes "
            f"and {args.replicas} action servers with {model.name}")
        stack = ScaledStack(layout, env, model, token, SCALED / "nginx")
        stack.start()
        log(f"ready in {time.monotonic() - started:.0f} s ("
            + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in stack.timings.items())
            + ")")
        log(f"the one address: {layout.url} (nginx over Rasa on ports "
            f"{', '.join(map(str, layout.rasa_ports))}; action servers behind "
            f"{layout.actions_url} on {', '.join(map(str, layout.action_ports))})")
        log(f"REST: curl -s {layout.url}/webhooks/rest/webhook "
            """-d '{"sender": "me", "message": "hi"}'""")
        log(f"website widget on a demo shop page: {layout.url}/webhooks/widget/demo")
        password = ("${POSTGRES_PASSWORD}" if os.environ.get("POSTGRES_PASSWORD")
                    else "$(cat var/scaled/postgres-password)")
        shown = Database(postgres.database.host, postgres.port, postgres.username, password)
        log(f"agent console: {layout.handoff_url}/console; accounts: "
            f"HANDOFF_DB_URL={shown.url('handoff')} "
            ".venv-services/bin/python -m bot agent add <username> --name <name>")
        log("Ctrl-C (or SIGTERM) stops everything")
        dead = stack.watch()
        log(f"{dead} stopped (code {stack.children[dead].process.returncode}); shutting down")
        return 1
    except (p.StartError, ValueError) as exc:
        log(f"cannot start: {exc}")
        return 1
    except KeyboardInterrupt:
        log("stopping")
        return 0
    finally:
        stopping = time.monotonic()
        if stack is not None:
            stack.stop()
        if redis is not None:
            redis.stop()
        postgres.stop()
        log(f"stopped in {time.monotonic() - stopping:.0f} s")
