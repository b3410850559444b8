#!/usr/bin/env bash
# `make lint`, and the first step of `make test` (CI): ruff, then mypy in each environment.
# The services' mypy reads pyproject.toml (Rasa is not installed there); the modules that
# run inside Rasa (every file that imports rasa, and the Sanic glue) are checked again with
# the Rasa environment's mypy, against the Sanic, SQLAlchemy and socket.io Rasa runs with.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv-services/bin/python -m ruff check .
.venv-services/bin/python -m mypy
mapfile -t rasa_side < <(grep -rlE '^\s*(from|import) rasa(\.| |$)' rasa_plugins bot bench scripts \
    --include='*.py' | sort)
.venv-rasa/bin/python -m mypy "${rasa_side[@]}" rasa_plugins/channels/sanic_compat.py
