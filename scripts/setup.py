#!/usr/bin/env python3
"""Create or update the project's two virtual environments from the committed locks.

Rasa 3.6 pins numpy<1.24, pydantic<1.10.10 and setuptools<70.4, which clash with what the
services (action server, knowledge, handoff) need, so the project keeps two environments,
as Rasa's own deployments do:

* ``.venv-rasa``      the Rasa server (and its training), from ``requirements/rasa.lock``
* ``.venv-services``  action server, knowledge base, handoff service and the tests,
                      from ``requirements/services.lock``

Every lock pins exact versions and is installed with ``--no-deps``, so no resolver runs and
nothing outside the lock (a CUDA build of torch, say) can sneak in. A stamp file per
environment records the hash of the lock it was built from: running this again skips an
environment that is up to date and resumes one that was interrupted. Extra set-up steps
(``scripts/setup_steps.py``) run after the environments exist.

Usage: python3 scripts/setup.py [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = {
    # name: (lock file, needs --ignore-requires-python: Rasa 3.6 declares Python <3.11)
    ".venv-rasa": ("requirements/rasa.lock", True),
    ".venv-services": ("requirements/services.lock", True),
}


def say(message: str) -> None:
    print(f"[setup] {message}", flush=True)


def lock_digest(lock: Path) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def run(cmd: list[str], **kwargs: object) -> None:
    say("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def ensure_env(name: str, lock_name: str, ignore_python: bool, force: bool) -> None:
    env, lock = ROOT / name, ROOT / lock_name
    stamp = env / ".lock-sha256"
    digest = lock_digest(lock)
    if not force and stamp.exists() and stamp.read_text().strip() == digest:
        say(f"{name} is up to date with {lock_name}")
        return
    started = time.monotonic()
    python = env / "bin" / "python"
    if not python.exists():
        say(f"creating {name}")
        run([sys.executable, "-m", "venv", str(env)])
    if stamp.exists():
        stamp.unlink()
    total = sum(1 for line in lock.read_text().splitlines() if line and not line.startswith("#"))
    say(f"installing {total} pinned packages into {name} (already installed ones are kept)")
    cmd = [str(python), "-m", "pip", "install", "--no-deps", "--progress-bar", "on",
           "--disable-pip-version-check", "-r", str(lock)]
    if ignore_python:
        cmd.insert(4, "--ignore-requires-python")
    run(cmd, env={**os.environ, "PIP_NO_INPUT": "1"})
    stamp.write_text(digest + "\n")
    say(f"{name} ready in {time.monotonic() - started:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="reinstall even if up to date")
    args = parser.parse_args()
    if sys.version_info[:2] != (3, 11):
        say(f"warning: the locks were made for Python 3.11, this is {sys.version.split()[0]}")
    started = time.monotonic()
    for step, (name, (lock, ignore_python)) in enumerate(ENVIRONMENTS.items(), start=1):
        say(f"step {step}/{len(ENVIRONMENTS) + 1}: environment {name}")
        ensure_env(name, lock, ignore_python, args.force)
    say(f"step {len(ENVIRONMENTS) + 1}/{len(ENVIRONMENTS) + 1}: project files")
    (ROOT / "var").mkdir(exist_ok=True)
    steps = ROOT / "scripts" / "setup_steps.py"
    run([str(ROOT / ".venv-services" / "bin" / "python"), str(steps)], cwd=ROOT)
    say(f"done in {time.monotonic() - started:.0f} s; next: make run (or make test)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        say(f"failed: {' '.join(map(str, exc.cmd))} exited with {exc.returncode}; "
            "fix the cause and run make setup again: finished steps are kept")
        sys.exit(1)
