"""Which language a customer message is in: English, Russian or Ukrainian.

Short chat messages defeat general-purpose detectors ("ok", "да", "дякую"), so this one is
built for the three languages the assistant speaks: letters only one of the Cyrillic
languages has, each language's most frequent words, and Russian typed in Latin letters
(transliteration) all count. It imports nothing outside the standard library, so both
the Rasa server and the services can use it. ``detect`` returns None when a message
carries no language at all (an order number, an e-mail, an emoji): the conversation then
keeps the language it had, and so it does when the evidence is weak (see ``choose``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUPPORTED = ("en", "ru", "uk")

_UK_LETTERS = set("іїєґ")
_RU_LETTERS = set("ыэъё")
_WORD_RE = re.compile(r"[^\W\d_]+", re.UNICODE)
_NOISE_RE = re.compile(
    r"(?:https?://\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b[A-Za-z]{2,4}[- ]?\d{3,}\b|/\w+(?:\{.*\})?)"
)

_RU_WORDS = frozenset("""
где мой моя мое мои заказ заказа заказе посылка посылку хочу вернуть возврат товар что как
это не нет да спасибо здравствуйте привет пожалуйста можно когда почему мне меня вы ваш
сломался сломан работает гарантия гарантии ремонт оператор человек адрес изменить отменить
отмена еще ещё уже был была было если или его ее её они она он сейчас сегодня вчера деньги
наушники телефон ноутбук только очень так как хорошо ладно понятно помогите помощь жду
доставка доставки трек номер почта почему который какой чтобы получил получила пришел
пришла пришло нужно надо день дня дней свой свою через
""".split())
_UK_WORDS = frozenset("""
де моє мій моя мої замовлення посилка посилку хочу повернути повернення товар що як це
ні так дякую вітаю привіт будь ласка можна коли чому мені мене ви ваш зламався зламаний
працює гарантія гарантії ремонт оператор людина людиною адреса адресу змінити скасувати
ще вже був була було якщо або його її вони вона він зараз сьогодні вчора гроші навушники
телефон ноутбук тільки дуже добре зрозуміло допоможіть допомога чекаю доставка доставки
номер пошта який яка щоб отримав отримала прийшов прийшла потрібно треба день днів свій
через мною тобі також допомогу допомогти вдячний вдячна будь ласка щодо чи ніж дуже
наразі отримати зв'язатися
""".split())
_EN_WORDS = frozenset("""
the a an is are was were be been my your our where what when why how who which can could
would should will do does did not no yes please thanks thank you hi hello hey order orders
return refund warranty broken parcel package delivery delivered address change cancel
want need help agent person human speak talk i me it this that there here with from for
and or but to of in on at by still yet already never arrived arrive item items phone
laptop headphones repair replace replacement status tracking number email bye good great
""".split())
# Russian typed in Latin letters, as customers do on phones without a Cyrillic layout.
_TRANSLIT_WORDS = frozenset("""
gde moy moi moya zakaz zakaza posylka posylku hochu khochu vernut vozvrat tovar chto kak
eto net da spasibo zdravstvuyte zdravstvuite privet pozhaluysta pozhalujsta mozhno kogda
pochemu mne menya vy slomalsya slomalas rabotaet garantiya garantii remont operator chelovek
adres izmenit otmenit otmena uzhe seychas segodnya vchera dengi naushniki noutbuk tolko
ochen horosho pomogite pomosch zhdu dostavka nomer pochta poluchil prishel prishla nuzhno
nado dney cherez pozovite zhivoy
""".split())
# Words too short or too shared to say anything ("ok", "да" alone still decides).
_NEUTRAL = frozenset({"ok", "okay", "o", "k", "ок", "окей", "orb", "id", "sn", "eur", "usb"})


@dataclass(frozen=True)
class Detection:
    language: str
    confidence: float


def _words(text: str) -> list[str]:
    cleaned = _NOISE_RE.sub(" ", text)
    return [w for w in (m.group(0).lower() for m in _WORD_RE.finditer(cleaned))
            if w not in _NEUTRAL]


def detect(text: str | None) -> Detection | None:
    """The language of ``text``, or None if it has no words to tell by."""
    words = _words(text or "")
    if not words:
        return None
    cyrillic = sum(1 for w in words if any("а" <= ch <= "я" or ch in "ёіїєґ" for ch in w))
    latin = len(words) - cyrillic
    if cyrillic >= latin:
        letters = set("".join(words))
        uk = 3 * len(letters & _UK_LETTERS) + sum(w in _UK_WORDS for w in words)
        ru = 3 * len(letters & _RU_LETTERS) + sum(w in _RU_WORDS for w in words)
        if uk > ru:
            return Detection("uk", min(1.0, 0.6 + 0.1 * (uk - ru)))
        # Cyrillic with no Ukrainian marks is Russian; certain only if a marker says so.
        return Detection("ru", 1.0 if ru > uk else 0.6)
    translit = sum(w in _TRANSLIT_WORDS for w in words)
    english = sum(w in _EN_WORDS for w in words)
    if translit > english:
        return Detection("ru", min(1.0, 0.6 + 0.1 * (translit - english)))
    if english == 0 and translit == 0 and len(words) == 1 and len(words[0]) <= 2:
        return None
    return Detection("en", 1.0 if english > translit else 0.6)


STRONG = 0.7


def choose(text: str | None, current: str | None) -> str | None:
    """The conversation's language after ``text``, or None to keep ``current``.

    Strong evidence always wins. Weak evidence only moves an English conversation to a
    Cyrillic language (the script alone rules English out); it never flips Russian and
    Ukrainian, which share most short words ("так", "ок", "добре").
    """
    found = detect(text)
    if found is None or found.language == current:
        return None
    if found.confidence >= STRONG:
        return found.language
    if found.language in ("ru", "uk") and current in (None, "en"):
        return found.language
    return None
