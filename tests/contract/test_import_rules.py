"""Which part may import which: each deployable part reaches another only through
``contract/``, apart from the libraries a process runs in-process (the encoder and the
sentiment model). Every import is read from the source (also those inside functions and
relative ones), so a deferred import does not hide a dependency.

The parts, the environment and the process each runs in:

- ``rasa_plugins/`` (Rasa's environment, inside the Rasa server): channels, policies,
  broker, router, tracker and lock stores;
- ``actions/`` (services' environment, the action server);
- ``handoff/`` (services' environment, the handoff service): queue, relay, console, alerts;
- ``metrics/`` (services' environment, served by the handoff service): the
  service-quality record, its numbers, erasure and retention, the reader of Rasa's events;
- ``knowledge/`` and ``sentiment/`` (services' environment): libraries the action server
  and the handoff service load in-process;
- ``bot/``, the launcher (either environment, no server of its own): ``python -m bot``, the
  process supervisor, the scaled deployment, the simulated day; it starts and seeds every
  part;
- ``contract``: what they share; it imports no part.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Every top-level package is one part (a module's part is its package); bot/ is the
# launcher. A new top-level package must be added here.
PARTS = {
    "rasa_plugins": "rasa_plugins",
    "actions": "actions",
    "handoff": "handoff",
    "metrics": "metrics",
    "knowledge": "knowledge",
    "sentiment": "sentiment",
    "contract": "contract",
    "bot": "launcher",
}
FOLDERS = tuple(PARTS)
ALL_PARTS = frozenset(PARTS.values())
MAY_IMPORT = {
    "contract": frozenset(),
    "rasa_plugins": frozenset(),
    "knowledge": frozenset(),
    "sentiment": frozenset({"knowledge"}),            # built on the e5 encoder
    "actions": frozenset({"knowledge", "sentiment"}),  # loaded in the action server
    "handoff": frozenset({"metrics"}),                # the service hosts the metrics
    "metrics": frozenset({"knowledge"}),              # question clusters use the encoder
    "launcher": ALL_PARTS,
}
# Single imports allowed across parts, each with its reason.
EXCEPTIONS = {
    ("sentiment.__main__", "actions.settings"):
        "the evaluation report prints what the action server's handoff triggers would do "
        "at their configured thresholds",
}


def part_of(module: str) -> str | None:
    return PARTS.get(module.split(".", maxsplit=1)[0])


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(module: str, source: str, is_package: bool = False) -> set[str]:
    """Every first-party module ``source`` imports, anywhere in the file."""
    found = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # "from handoff import store" imports handoff.store
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in FOLDERS}


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    own = part_of(module)
    if own is None:
        return [f"{module}: belongs to no part (add it to PARTS)"]
    found = []
    for name in sorted(imports_of(module, source, is_package)):
        other = part_of(name)
        if other in (own, "contract") or other in MAY_IMPORT[own]:
            continue
        if any(module == m and (name == target or name.startswith(target + "."))
               for m, target in EXCEPTIONS):
            continue
        found.append(f"{module} ({own}) imports {name} ({other})")
    return found


def sources() -> list[Path]:
    return sorted(path for folder in FOLDERS for path in (ROOT / folder).rglob("*.py"))


def test_every_part_reaches_another_only_through_the_contract() -> None:
    found = [problem for path in sources()
             for problem in violations(module_name(path), path.read_text(encoding="utf-8"),
                                       path.name == "__init__.py")]
    assert not found, "imports across parts:\n" + "\n".join(found)


def test_every_exception_is_still_needed() -> None:
    used = set()
    for path in sources():
        module = module_name(path)
        for name in imports_of(module, path.read_text(encoding="utf-8"),
                               path.name == "__init__.py"):
            used.update((m, t) for m, t in EXCEPTIONS
                        if m == module and (name == t or name.startswith(t + ".")))
    assert used == set(EXCEPTIONS), f"exceptions no longer used: {set(EXCEPTIONS) - used}"


@pytest.mark.parametrize(("module", "source", "expected"), [
    # a Rasa plugin reaching into the action server, inside a function
    ("rasa_plugins.channels.rest", "def f():\n    from actions.settings import X\n",
     ["rasa_plugins.channels.rest (rasa_plugins) imports actions.settings.X (actions)"]),
    # the action server reaching into the handoff service by "from package import module"
    ("actions.handoff", "from handoff import store\n",
     ["actions.handoff (actions) imports handoff.store (handoff)"]),
    # the metrics serve the handoff service, never the other way round
    ("metrics.records", "from handoff.store import Ticket\n",
     ["metrics.records (metrics) imports handoff.store.Ticket (handoff)"]),
    # the contract imports no part
    ("contract.payload", "import handoff.store\n",
     ["contract.payload (contract) imports handoff.store (handoff)"]),
    # allowed: the contract, the part itself, an in-process library, the launcher
    ("actions.handoff", "from contract.payload import Escalation\nimport actions.settings\n"
     "from knowledge.base import KnowledgeBase\n", []),
    ("handoff.quality", "from metrics import compute\n", []),
    ("bot.scaled", "from bot import balancer\nimport handoff.app\nfrom actions.runtime import r\n",
     []),
])
def test_the_rules_catch_what_they_should(module: str, source: str,
                                          expected: list[str]) -> None:
    assert violations(module, source) == expected


def test_relative_imports_are_resolved_against_the_package() -> None:
    assert imports_of("rasa_plugins.channels.rest", "from ..policies import escalation\n") \
        == {"rasa_plugins.policies.escalation"}
    assert imports_of("handoff", "from . import api\n", is_package=True) \
        == {"handoff.api"}


def test_a_module_of_no_part_is_reported() -> None:
    assert violations("tools.helper", "") == ["tools.helper: belongs to no part (add it to PARTS)"]
