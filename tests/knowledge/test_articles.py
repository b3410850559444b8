"""Parsing articles and splitting them into passages: what a content editor gets wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.articles import ArticleError, load_articles, parse_article

GOOD = """---
id: return-window
title: The 30-day return window
language: en
tags: [returns]
intent: return_item
reviewed: 2026-11-23
questions:
  - "how long can i return"
---
You have 30 days from delivery.

## Do I need a reason?
No reason is needed.

## Undelivered orders
They cannot be returned: cancel them instead.
"""


def write(root: Path, lang: str, name: str, text: str) -> Path:
    path = root / lang / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_article_parses(tmp_path: Path) -> None:
    article = parse_article(write(tmp_path, "en", "return-window.md", GOOD))
    assert (article.id, article.language, article.intent) == ("return-window", "en", "return_item")
    assert article.title == "The 30-day return window"
    assert article.tags == ("returns",)
    assert article.questions == ("how long can i return",)
    assert str(article.reviewed) == "2026-11-23"
    assert len(article.content_hash) == 64


def test_passages_split_by_heading_and_keep_the_title(tmp_path: Path) -> None:
    passages = parse_article(write(tmp_path, "en", "return-window.md", GOOD)).passages()
    texts = [p for p in passages if p.kind == "text"]
    assert [p.heading for p in texts] == [None, "Do I need a reason?", "Undelivered orders"]
    assert texts[0].text == "You have 30 days from delivery."
    assert texts[1].embedding_text() == (
        "The 30-day return window\nDo I need a reason?\nNo reason is needed.")
    questions = [p for p in passages if p.kind == "question"]
    assert [q.embedding_text() for q in questions] == ["how long can i return"]
    assert [p.position for p in passages] == list(range(len(passages)))


def test_a_very_long_section_is_split_at_paragraphs(tmp_path: Path) -> None:
    paragraph = "A sentence about delivery times that goes on. " * 12
    body = "\n\n".join([paragraph.strip()] * 6)
    text = GOOD.split("---\n", 2)
    long_article = f"---\n{text[1]}---\nIntro.\n\n## Long\n{body}\n"
    passages = [p for p in parse_article(write(tmp_path, "en", "return-window.md",
                                                long_article)).passages() if p.kind == "text"]
    long_parts = [p for p in passages if p.heading == "Long"]
    assert len(long_parts) > 1
    assert all(len(p.text) <= 1500 for p in long_parts)
    assert "".join(p.text.replace("\n\n", "") for p in long_parts) == body.replace("\n\n", "")


@pytest.mark.parametrize(("name", "text", "message"), [
    ("return-window.md", "no front matter\n", "front matter block"),
    ("return-window.md", "---\nid: [unclosed\n---\nText\n", "not valid YAML"),
    ("return-window.md", "---\nid: return-window\nlanguage: en\nreviewed: 2026-11-23\n---\nT\n",
     "lacks title"),
    ("return-window.md", GOOD.replace("tags:", "colour: red\ntags:"), "unknown front matter"),
    ("other-name.md", GOOD, "file name must be the id"),
    ("return-window.md", GOOD.replace("id: return-window", "id: Return Window"),
     "lowercase letters"),
    ("return-window.md", GOOD.replace("reviewed: 2026-11-23", "reviewed: last week"),
     "reviewed must be a date"),
    ("return-window.md", GOOD.replace('  - "how long can i return"\n', "").replace(
        "questions:", "questions: just one string"), "questions must be a list"),
    ("return-window.md", GOOD.split("---\n", 2)[0] + "---\n" + GOOD.split("---\n", 2)[1]
     + "---\n\n", "has no text"),
])
def test_bad_articles_get_a_message_naming_file_and_problem(
        tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path, "en", name, text)
    with pytest.raises(ArticleError, match=message) as caught:
        parse_article(path)
    assert str(path) in str(caught.value)


def test_language_must_match_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="language 'en' but the file is in ru/"):
        parse_article(write(tmp_path, "ru", "return-window.md", GOOD))


def test_load_articles_reports_every_problem_at_once(tmp_path: Path) -> None:
    write(tmp_path, "en", "return-window.md", GOOD)
    write(tmp_path, "en", "broken.md", "nothing here")
    write(tmp_path, "ru", "return-window.md", GOOD)  # says language: en
    with pytest.raises(ArticleError) as caught:
        load_articles(tmp_path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert any("broken.md" in line for line in lines)
    assert any("ru/return-window.md" in line for line in lines)


def test_an_empty_folder_is_an_error_not_an_empty_index(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    with pytest.raises(ArticleError, match="no articles found"):
        load_articles(tmp_path)
    with pytest.raises(ArticleError, match="does not exist"):
        load_articles(tmp_path / "missing")


def test_the_demo_articles_parse_and_exist_in_every_language() -> None:
    root = Path(__file__).parents[2] / "knowledge" / "articles"
    articles = load_articles(root)
    by_language: dict[str, set[str]] = {}
    for article in articles:
        by_language.setdefault(article.language, set()).add(article.id)
        assert article.questions, f"{article.path} lists no questions"
    assert set(by_language) == {"en", "ru", "uk"}
    assert len(by_language["en"]) >= 40
    assert by_language["en"] == by_language["ru"] == by_language["uk"]
