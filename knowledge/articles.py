"""Knowledge-base articles: Markdown files with a small YAML front matter, and their passages.

An article lives in ``knowledge/articles/<lang>/<id>.md``::

    ---
    id: return-window            # stable; the same id in every language
    title: The 30-day return window
    language: en
    tags: [returns, refunds]
    intent: return_item          # optional: the assistant's job this topic belongs to
    reviewed: 2026-11-23         # when a person last checked it against the policy
    ---
    The direct answer.

    ## A sub-question
    Its answer.

Passages are the unit of retrieval: the text before the first ``## `` heading and each
``## `` section, each embedded together with the article title (and its heading), so a
passage shown alone still says what it is about.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

REQUIRED = ("id", "title", "language", "reviewed")
KNOWN_KEYS = {*REQUIRED, "tags", "intent", "questions"}
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,80}$")
MAX_PASSAGE_CHARS = 1500


class ArticleError(ValueError):
    """An article file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Passage:
    article_id: str
    language: str
    title: str
    heading: str | None
    text: str
    position: int
    # "text": a part of the article, shown to customers; "question": one of the questions
    # the article lists in its front matter, matched against questions, never shown.
    kind: str = "text"

    def embedding_text(self) -> str:
        if self.kind == "question":
            return self.text
        parts = [self.title] + ([self.heading] if self.heading else []) + [self.text]
        return "\n".join(parts)


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    language: str
    body: str
    path: Path
    reviewed: date
    tags: tuple[str, ...] = ()
    intent: str | None = None
    questions: tuple[str, ...] = ()
    content_hash: str = field(default="")

    def passages(self) -> list[Passage]:
        return split_passages(self)


def parse_article(path: Path, text: str | None = None) -> Article:
    """Parse one article file; raise ArticleError with a message a content editor can act on."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ArticleError(f"{path}: not UTF-8 text ({exc})") from exc
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    if not match:
        raise ArticleError(f"{path}: must start with a front matter block between '---' lines")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ArticleError(f"{path}: front matter is not valid YAML: {exc}") from exc
    _check_meta(path, meta)
    article_id, language, reviewed = str(meta["id"]), str(meta["language"]), meta["reviewed"]
    tags = meta.get("tags") or []
    questions = meta.get("questions") or []
    body = match.group(2).strip()
    if not body:
        raise ArticleError(f"{path}: the article has no text")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Article(id=article_id, title=str(meta["title"]).strip(), language=language,
                   body=body, path=path, reviewed=reviewed, tags=tuple(tags),
                   intent=str(meta["intent"]) if meta.get("intent") else None,
                   questions=tuple(q.strip() for q in questions), content_hash=digest)


def _check_meta(path: Path, meta: object) -> None:
    if not isinstance(meta, dict):
        raise ArticleError(f"{path}: front matter must be a mapping of keys to values")
    missing = [key for key in REQUIRED if not meta.get(key)]
    if missing:
        raise ArticleError(f"{path}: front matter lacks {', '.join(missing)}")
    unknown = sorted(set(meta) - KNOWN_KEYS)
    if unknown:
        raise ArticleError(f"{path}: unknown front matter keys {', '.join(unknown)}")
    article_id = str(meta["id"])
    if not ID_PATTERN.match(article_id):
        raise ArticleError(f"{path}: id {article_id!r} must be lowercase letters, digits and '-'")
    if path.stem != article_id:
        raise ArticleError(f"{path}: file name must be the id ({article_id}.md)")
    language = str(meta["language"])
    if path.parent.name != language:
        raise ArticleError(f"{path}: language {language!r} but the file is in "
                           f"{path.parent.name}/")
    reviewed = meta["reviewed"]
    if not isinstance(reviewed, date):
        raise ArticleError(f"{path}: reviewed must be a date like 2026-11-23")
    tags = meta.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ArticleError(f"{path}: tags must be a list of words")
    questions = meta.get("questions") or []
    if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip()
                                                  for q in questions):
        raise ArticleError(f"{path}: questions must be a list of questions (text)")


def split_passages(article: Article) -> list[Passage]:
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in article.body.splitlines():
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        else:
            sections[-1][1].append(line)
    passages: list[Passage] = []
    for heading, lines in sections:
        text = "\n".join(lines).strip()
        if not text:
            continue
        for part in _limit(text):
            passages.append(Passage(article.id, article.language, article.title, heading,
                                    part, len(passages)))
    for question in dict.fromkeys(article.questions):
        passages.append(Passage(article.id, article.language, article.title, None, question,
                                len(passages), kind="question"))
    return passages


def _limit(text: str) -> Iterable[str]:
    """Very long sections are split at paragraph breaks (the encoder reads 512 tokens)."""
    if len(text) <= MAX_PASSAGE_CHARS:
        yield text
        return
    chunk: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        if chunk and len("\n\n".join([*chunk, paragraph])) > MAX_PASSAGE_CHARS:
            yield "\n\n".join(chunk)
            chunk = []
        chunk.append(paragraph)
    if chunk:
        yield "\n\n".join(chunk)


def load_articles(root: Path) -> list[Article]:
    """Every article under ``root/<lang>/``, sorted; all problems are reported together."""
    if not root.is_dir():
        raise ArticleError(f"{root}: the articles folder does not exist")
    articles: list[Article] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], Path] = {}
    for path in sorted(root.glob("*/*.md")):
        try:
            article = parse_article(path)
        except ArticleError as exc:
            problems.append(str(exc))
            continue
        key = (article.language, article.id)
        if key in seen:
            problems.append(f"{path}: id {article.id} is also used by {seen[key]}")
            continue
        seen[key] = path
        articles.append(article)
    if problems:
        raise ArticleError("\n".join(problems))
    if not articles:
        raise ArticleError(f"{root}: no articles found (expected <lang>/<id>.md files)")
    return articles
