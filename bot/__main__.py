"""``python -m bot run``: the whole assistant with embedded defaults, stopped with Ctrl-C.
``python -m bot run-scaled --replicas N``: N Rasa and N action servers behind one address,
on PostgreSQL and Redis (bot/scaled.py).

``python -m bot train``: train a model only if none matches config, domain and data.
``python -m bot handoff``: the handoff service and agent console alone.
``python -m bot agent add <username> --name "<display name>"``: an agent account.
``python -m bot demo``: a simulated day of 200 conversations on a demo dashboard.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time

from bot import processes as p
from bot import scaled
from handoff.cli import add_commands, run_command

VAR = p.ROOT / "var"


def log(message: str) -> None:
    print(f"[bot] {message}", flush=True)


def local_secret(variable: str, filename: str) -> str:
    """The variable's value, or a random one for this installation kept in var/ (mode 600)."""
    value = os.environ.get(variable)
    if value:
        return value
    path = VAR / filename
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32) + "\n")
        path.chmod(0o600)
        log(f"{variable} is not set: generated one in {path}")
    return path.read_text().strip()


def api_token() -> str:
    return local_secret("RASA_API_TOKEN", "rasa-api-token")


def runtime_env(action_port: int, rasa_port: int = 5005, handoff_port: int = 5056,
                token: str = "") -> dict[str, str]:
    defaults = {
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "TRACKER_DB_DIALECT": "sqlite",
        "TRACKER_DB": str(VAR / "tracker.db"),
        **p.handoff_env(VAR, handoff_port, rasa_port, token,
                        local_secret("HANDOFF_WEBHOOK_SECRET", "handoff-webhook-secret")),
        "WIDGET_SESSION_SECRET": local_secret("WIDGET_SESSION_SECRET", "widget-session-secret"),
        # the demo shop page is served by Rasa itself; a shop lists its own origins
        "WIDGET_ALLOWED_ORIGINS": f"http://127.0.0.1:{rasa_port},http://localhost:{rasa_port}",
    }
    return p.base_env({k: os.environ.get(k, v) for k, v in defaults.items()})


def stop_on_signals() -> None:
    """SIGTERM and SIGINT raise KeyboardInterrupt once, so the caller's clean-up runs.

    Explicit handlers: a shell that starts us in the background ignores SIGINT otherwise.
    A second signal (a supervisor repeating it, Ctrl-C twice) is ignored: it must not cut
    the clean-up short and leave processes running."""
    def stop(*_: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def run(args: argparse.Namespace) -> int:
    VAR.mkdir(exist_ok=True)
    token = api_token()
    env = runtime_env(args.actions_port, args.port, args.handoff_port, token)
    children: list[p.Managed] = []
    stop_on_signals()
    try:
        log("checking the model (trains only if config, domain or data changed)")
        started = time.monotonic()
        model = p.train(env) if not args.no_train else p.newest_model()
        log(f"model {model.name} ready after {time.monotonic() - started:.0f} s")
        p.build_knowledge(env)
        # All three at once: each loads its models while the others do.
        children.extend(p.start_together([
            lambda: p.start_action_server(args.actions_port, env),
            lambda: p.start_rasa(args.port, model, token, env),
            lambda: p.start_handoff(args.handoff_port, env)]))
        log(f"action server up on http://127.0.0.1:{args.actions_port}; ready after "
            f"{time.monotonic() - started:.0f} s")
        log(f"agent console: http://127.0.0.1:{args.handoff_port}/console (accounts: "
            "python -m bot agent add <username> --name <name>)")
        log(f"website widget on a demo shop page: http://127.0.0.1:{args.port}/webhooks/widget/demo")
        log(f"assistant up: POST http://127.0.0.1:{args.port}/webhooks/rest/webhook "
            '{"sender": "me", "message": "hi"}; Ctrl-C stops')
        while all(child.alive() for child in children):
            time.sleep(1)
        dead = next(child for child in children if not child.alive())
        log(f"{dead.name} stopped unexpectedly (code {dead.process.returncode}); shutting down")
        return 1
    except p.StartError as exc:
        log(f"cannot start: {exc}")
        return 1
    except KeyboardInterrupt:
        log("stopping")
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        log("stopped")


def run_scaled(args: argparse.Namespace) -> int:
    VAR.mkdir(exist_ok=True)
    stop_on_signals()
    return scaled.run(args, local_secret)


def train(_: argparse.Namespace) -> int:
    try:
        model = p.train(p.base_env())
    except p.StartError as exc:
        log(str(exc))
        return 1
    log(f"model: {model.relative_to(p.ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:
        from bot import demo  # noqa: PLC0415 - the simulation client, only when asked for
        return demo.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", help="train a model unless one matches config, domain and data")
    run_cmd = sub.add_parser("run", help="train if needed, start the action server and Rasa")
    run_cmd.add_argument("--port", type=int, default=int(os.environ.get("RASA_PORT", "5005")))
    run_cmd.add_argument("--actions-port", type=int,
                         default=int(os.environ.get("ACTIONS_PORT", "5055")))
    run_cmd.add_argument("--handoff-port", type=int,
                         default=int(os.environ.get("HANDOFF_PORT", "5056")))
    run_cmd.add_argument("--no-train", action="store_true", help="use the newest model as is")
    scaled.add_command(sub)
    sub.add_parser("demo", help="a simulated day on a demo dashboard (see --help)")
    add_commands(sub)
    args = parser.parse_args(argv)
    if args.command in ("handoff", "agent", "erase"):
        return run_command(args)
    if args.command == "run-scaled":
        return run_scaled(args)
    return train(args) if args.command == "train" else run(args)


if __name__ == "__main__":
    sys.exit(main())
