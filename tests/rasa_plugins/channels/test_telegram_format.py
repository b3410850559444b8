"""Telegram message rendering: escaping, links, splitting, keyboards, agent headers."""

from __future__ import annotations

import html
import re

import pytest

from rasa_plugins.channels.telegram_format import (
    MAX_CALLBACK_BYTES,
    MAX_MESSAGE_CHARS,
    button_key,
    inline_keyboard,
    is_button_key,
    render,
    split_text,
    to_html,
)


def visible(part: str) -> str:
    """What Telegram shows (and counts towards 4,096) for an HTML part."""
    return html.unescape(re.sub(r"<[^>]+>", "", part))


def test_markup_characters_are_shown_literally() -> None:
    text = "Use <b>x</b> & *stars* _under_ `code` [not a link](javascript:alert(1))"
    assert to_html(text) == ("Use &lt;b&gt;x&lt;/b&gt; &amp; *stars* _under_ `code` "
                             "[not a link](javascript:alert(1))")


def test_markdown_links_to_http_become_links_with_escaped_parts() -> None:
    text = 'See [returns & refunds](https://shop.example/help?a=1&b="2") or [ftp](ftp://x/y).'
    assert to_html(text) == (
        'See <a href="https://shop.example/help?a=1&amp;b=&quot;2&quot;">returns &amp; '
        'refunds</a> or [ftp](ftp://x/y).')


def test_links_with_parentheses_in_the_url() -> None:
    assert to_html("[W](https://en.wikipedia.org/wiki/Foo_(bar))") == \
        '<a href="https://en.wikipedia.org/wiki/Foo_(bar)">W</a>'


def test_agent_and_system_texts_are_not_turned_into_links() -> None:
    text = "[click](https://evil.example) <script>alert(1)</script>"
    agent = render(text, "agent", "Anna", "support")
    assert agent == ["<b>Anna · support</b>\n[click](https://evil.example) "
                     "&lt;script&gt;alert(1)&lt;/script&gt;"]
    assert render(text, "system") == [html.escape(text, quote=False)]
    assert render("<i>", "agent", "<Eve>", "support")[0].startswith("<b>&lt;Eve&gt; · support</b>")


def test_a_short_text_is_one_message() -> None:
    assert split_text("Hello\n\nSecond paragraph") == ["Hello\n\nSecond paragraph"]
    assert render("  Hello  ") == ["Hello"]


def test_long_text_splits_on_paragraphs_first() -> None:
    paragraph = ("word " * 600).strip()  # 2,999 characters
    text = "\n\n".join([paragraph, paragraph, paragraph])
    parts = split_text(text)
    assert parts == [paragraph, paragraph, paragraph]


def test_then_on_lines_then_on_words_never_mid_word() -> None:
    line = ("alpha " * 300).strip()  # 1,799 characters
    parts = split_text("\n".join([line] * 5))
    assert all(len(p) <= MAX_MESSAGE_CHARS for p in parts)
    assert parts[0] == "\n".join([line, line])
    words = " ".join(f"w{i:05d}" for i in range(2000))  # one 13,999-character line
    parts = split_text(words)
    assert all(len(p) <= MAX_MESSAGE_CHARS for p in parts)
    assert " ".join(parts) == words  # every cut was at a space
    assert all(re.fullmatch(r"w\d{5}( w\d{5})*", p) for p in parts)


def test_a_word_longer_than_the_limit_is_cut() -> None:
    word = "x" * 10_000
    parts = split_text(f"before {word} after")
    assert all(len(p) <= MAX_MESSAGE_CHARS for p in parts)
    assert "".join(parts).replace(" ", "") == f"before{word}after"
    assert parts[0] == "before"


def test_links_are_never_cut() -> None:
    link = "[a link with several words](https://shop.example/some/long/path)"
    text = ("z" * 3990) + " " + link + " tail"
    parts = split_text(text)
    assert any(link in part for part in parts)
    assert all(len(p) <= MAX_MESSAGE_CHARS for p in parts)


def test_every_rendered_part_fits_after_escaping() -> None:
    text = "<&>" * 3000 + "\n\n" + "tail"  # escaping triples the length of the source
    parts = render(text)
    assert len(parts) == 3  # 9,006 visible characters; one unbroken "word" of 9,000
    assert all(len(visible(p)) <= MAX_MESSAGE_CHARS for p in parts)
    assert "".join(visible(p) for p in parts) == text


def test_an_agents_long_reply_keeps_the_header_within_the_limit() -> None:
    text = ("reply " * 1500).strip()
    parts = render(text, "agent", "Anna", "support")
    assert parts[0].startswith("<b>Anna · support</b>\n")
    assert len(parts) == 3
    assert all(len(visible(p)) <= MAX_MESSAGE_CHARS for p in parts)


def test_buttons_become_one_inline_button_per_row() -> None:
    markup = inline_keyboard([{"title": "Yes", "payload": "/affirm"},
                              {"title": "No", "payload": "/deny"},
                              {"title": "Docs", "url": "https://shop.example/docs"},
                              {"title": "", "payload": "/nothing"}])
    assert markup == {"inline_keyboard": [
        [{"text": "Yes", "callback_data": "/affirm"}],
        [{"text": "No", "callback_data": "/deny"}],
        [{"text": "Docs", "url": "https://shop.example/docs"}]]}
    assert inline_keyboard([]) is None


@pytest.mark.parametrize("payload", [
    '/inform{"return_reason": "defective"}',
    "/a" + "x" * 62,  # 64 bytes exactly
])
def test_payloads_that_fit_are_their_own_callback_data(payload: str) -> None:
    assert button_key(payload) == payload
    assert not is_button_key(payload)


def test_longer_payloads_get_a_short_stable_key() -> None:
    payload = '/inform{"item": "' + "Ж" * 40 + '"}'  # Cyrillic: 2 bytes a letter
    key = button_key(payload)
    assert key != payload and is_button_key(key)
    assert len(key.encode()) <= MAX_CALLBACK_BYTES
    assert button_key(payload) == key  # the same in every process
    assert button_key(payload + " ") != key

