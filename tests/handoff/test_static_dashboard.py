"""The console's static files stay within its Content-Security-Policy (scripts and styles
from 'self' only, nothing inline) and the vendored Chart.js is the file VENDORED.md names."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "handoff" / "static"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


def _parse(name: str) -> _Collector:
    collector = _Collector()
    collector.feed((STATIC / name).read_text(encoding="utf-8"))
    return collector


def test_console_page_has_nothing_inline_and_only_local_resources() -> None:
    page = _parse("console.html")
    assert not page.inline_script
    assert not any(tag == "style" for tag, _ in page.tags)
    for tag, attrs in page.tags:
        assert "style" not in attrs, f"inline style on <{tag}>"
        assert not any(name.startswith("on") for name in attrs), f"inline handler on <{tag}>"
    scripts = [a for t, a in page.tags if t == "script"]
    sources = [a["src"] for a in scripts]
    sheets = [a["href"] for t, a in page.tags if t == "link" and a.get("rel") == "stylesheet"]
    # The chart library is a classic script; the console is one ES module that imports
    # its parts (and, for supervisors, loads the dashboard's) itself.
    assert sources == ["/static/vendor/chart.umd.min.js", "/static/console.js"]
    assert [a.get("type") for a in scripts] == [None, "module"]
    for url in [*sources, *sheets]:
        assert url and url.startswith("/static/"), url
        assert (STATIC / url.removeprefix("/static/")).is_file(), url


def test_every_chart_canvas_and_tile_container_has_a_stable_id() -> None:
    page = _parse("console.html")
    canvases = [a.get("id") for t, a in page.tags if t == "canvas"]
    assert canvases and all(c and c.startswith("chart-") for c in canvases)
    assert len(set(canvases)) == len(canvases)
    ids = {a.get("id") for _, a in page.tags}
    for needed in ("tab-dashboard", "dashboard-view", "dash-kpis", "dash-from", "dash-to",
                   "dash-channel", "dash-csv", "alert-banner", "sound-toggle"):
        assert needed in ids


def test_console_scripts_never_parse_server_text_as_html() -> None:
    for name in _own_scripts():
        text = (STATIC / name).read_text(encoding="utf-8")
        assert "insertAdjacentHTML" not in text
        assert "outerHTML" not in text
        # innerHTML is only ever cleared, never given content.
        assert re.findall(r"innerHTML\s*=(?!\s*\"\")", text) == [], name


def _own_scripts() -> list[str]:
    names = sorted(p.name for p in STATIC.glob("*.js"))
    assert {"console.js", "dashboard.js", "dom.js", "login.js"} <= set(names)
    return names


_IMPORT = re.compile(r'^import \{([^}]*)\} from "\./([\w.]+)";', re.MULTILINE)
_DYNAMIC = re.compile(r'import\("\./([\w.]+)"\)')
_EXPORT = re.compile(r"^export (?:async function|function|const|let) ([A-Za-z_$][\w$]*)"
                     r"|^export \{([^}]*)\}", re.MULTILINE)


def _exports(name: str) -> set[str]:
    found: set[str] = set()
    for single, listed in _EXPORT.findall((STATIC / name).read_text(encoding="utf-8")):
        found |= {single} if single else {n.strip() for n in listed.split(",") if n.strip()}
    return found


def test_every_module_import_names_a_file_and_its_exports() -> None:
    """What a browser checks when it links the console's modules, before any of it runs:
    a missing file or export would leave the console blank."""
    reached = {"console.js"}
    todo = ["console.js"]
    while todo:
        name = todo.pop()
        text = (STATIC / name).read_text(encoding="utf-8")
        for names, target in _IMPORT.findall(text):
            assert (STATIC / target).is_file(), f"{name} imports a missing {target}"
            wanted = {n.strip() for n in names.split(",") if n.strip()}
            missing = wanted - _exports(target)
            assert not missing, f"{name} imports {sorted(missing)} that {target} does not export"
            if target not in reached:
                reached.add(target)
                todo.append(target)
        for target in _DYNAMIC.findall(text):
            assert (STATIC / target).is_file(), f"{name} loads a missing {target}"
            if target not in reached:
                reached.add(target)
                todo.append(target)
    # Every script of the folder is either the login page's or part of the console.
    assert sorted(reached | {"login.js"}) == _own_scripts()


def test_vendored_chart_js_matches_its_recorded_checksum() -> None:
    notes = (STATIC / "vendor" / "VENDORED.md").read_text(encoding="utf-8")
    recorded = re.search(r"sha256 of `chart\.umd\.min\.js`:\s*`([0-9a-f]{64})`", notes)
    assert recorded, "VENDORED.md must record the sha256 of chart.umd.min.js"
    actual = hashlib.sha256((STATIC / "vendor" / "chart.umd.min.js").read_bytes()).hexdigest()
    assert actual == recorded.group(1)
    assert (STATIC / "vendor" / "chart.js-LICENSE.md").is_file()
