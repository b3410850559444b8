"""Customer-facing texts of the handoff service, one file per language (strings/<lang>.yml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).parent / "strings"
FALLBACK = "en"


class Strings:
    def __init__(self, folder: Path = FOLDER) -> None:
        self.by_language: dict[str, dict[str, str]] = {
            path.stem: {str(k): str(v) for k, v in (yaml.safe_load(
                path.read_text(encoding="utf-8")) or {}).items()}
            for path in sorted(folder.glob("*.yml"))}
        missing = {lang: sorted(set(self.by_language[FALLBACK]) - set(texts))
                   for lang, texts in self.by_language.items()}
        problems = {lang: keys for lang, keys in missing.items() if keys}
        if problems:
            raise ValueError(f"handoff strings missing: {problems}")

    def text(self, language: str, key: str, **values: Any) -> str:
        texts = self.by_language.get(language) or self.by_language[FALLBACK]
        return texts[key].format(**values)
