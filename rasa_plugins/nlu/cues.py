"""What a message says about itself: is it a question about the rules, or a request about
the customer's own order? Pure functions over the text, in English, Russian and Ukrainian.

A generic question ("how long is the warranty on a tablet?", "is return shipping free?")
asks how things work; a request ("return the phone from order ORB-104217", "my TV stopped
working", "is my TV from order X still covered?") asks the shop to act on something of
the customer's. The difference is in a few kinds of words, not in the topic: the same
words (return, warranty, cancel) appear in both. Each cue below is one such kind; the
router (``rasa_plugins.nlu.router``) weighs them, together with word and character n-grams, in a
logistic regression trained on the NLU data.

Only the standard library: the module is used inside Rasa's environment and in the tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# An order number in any form the assistant accepts, an e-mail, a phone, a serial.
_ORDER_REF = re.compile(r"\borb[\s-]?\d{6}\b|(?<![\d+])\d{6}(?!\d)", re.IGNORECASE)
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_PHONE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_SERIAL = re.compile(r"\b(?=[a-z0-9-]*\d)(?=[a-z0-9-]*[a-z])[a-z0-9]{2,}-[a-z0-9-]{3,}\b",
                     re.IGNORECASE)


def _words(pattern: str) -> re.Pattern[str]:
    """Whole words (or stems followed by letters) in any of the three languages."""
    return re.compile(rf"(?<![^\W\d_])(?:{pattern})(?![^\W\d_])", re.IGNORECASE | re.UNICODE)


def _stems(pattern: str) -> re.Pattern[str]:
    """Stems: the start of a word, any ending (Russian and Ukrainian inflect)."""
    return re.compile(rf"(?<![^\W\d_])(?:{pattern})", re.IGNORECASE | re.UNICODE)


# "my", "our", "mine": the customer's own thing.
_POSSESSIVE = _words(
    r"my|mine|our|"
    r"мо[йяеёи]|мо(его|ему|ей|ю|им|их|ими|ём|ем)|наш[аеи]?|нашего|нашу|у меня|"
    r"мі[йї]|мо(є|я|ї|го|єму|їй|єю|їм|їх|ю)|у мене")
# Something that happened to the customer's order: bought, received, arrived, came.
_PAST_EVENT = _words(
    r"i (?:just |recently )?(?:bought|ordered|purchased|got|received|have|paid)|i've|"
    r"(?:it|they|parcel|package|order) (?:arrived|came)|arrived|came|delivered yesterday|"
    r"купил[аи]?|заказал[аи]?|получил[аи]?|пришл[аои]|пришёл|приехал[аио]?|оплатил[аи]?|"
    r"доставили|привезли|"
    r"купив|купила|купили|замовив|замовила|замовили|отримав|отримала|отримали|прийшл[аои]|"
    r"прийшов|оплатив|оплатила|доставили|привезли")
# "I want", "I'd like", "please": asking for an action.
_WANT = _words(
    r"i (?:want|wanna|need|would like|'d like)|i'd like|id like|please|pls|plz|"
    r"хочу|хотел[аи]?|хотим|нужно|надо|прошу|пожалуйста|требую|"
    r"хочу|хотів|хотіла|хочемо|потрібно|треба|прошу|будь ласка")
# "can you", "could you": asking the assistant to act.
_ASK_ACTION = _words(
    r"can you|could you|would you|will you|can u|could u|"
    r"(?:вы |ты )?(?:можете|можешь|могли бы|не могли бы|помогите|помоги)|"
    r"(?:ви |ти )?(?:можете|можеш|могли б|не могли б|допоможіть|допоможи)")
# A fault report: something of the customer's broke.
_FAULT = _stems(
    r"broke|broken|stopped|doesn'?t (?:work|turn|charge|connect)|does not|won'?t|not working|"
    r"dead|cracked|died|faulty|defective|keeps? (?:restart|turn|disconnect)|no sound|"
    r"слома|разби|перестал|не работа|не включа|не заряжа|не реагир|треснул|умер|глючит|"
    r"зламал|зламав|розби|перестав|перестала|не працю|не вмика|не заряджа|тріснув|помер|"
    r"не вмикається|не вмикаєт")
# A question about how things work, as the sentence starts.
_GENERIC_FRAME = _words(
    r"how (?:long|much|many|soon|quickly|do|does|can|is|are)|what (?:if|happens|is|are|does|do)|"
    r"is it|are there|is there|do i|do you|does (?:the|a|an|it)|can i|can one|could i|"
    r"may i|am i|will i|should i|if i|in case|when do|when does|which|"
    r"сколько|как долго|как (?:можно|мне|вернуть|оформить|отследить|отменить|изменить|"
    r"поменять|работает)|что (?:если|будет|делать)|можно ли|нужно ли|надо ли|есть ли|"
    r"могу ли|если|какой|какие|какая|в какой|когда|"
    r"скільки|як довго|як (?:можна|мені|повернути|оформити|відстежити|скасувати|змінити|"
    r"працює)|що (?:якщо|буде|робити)|чи можна|чи потрібно|чи треба|чи є|чи можу|якщо|"
    r"який|яка|які|коли")
# Words that start a question in general.
_QUESTION_START = re.compile(
    r"^\W*(?:hi|hello|hey|привет|здравствуйте|добрый день|привіт|добрий день|вітаю)?\W*"
    r"(?:how|what|when|where|why|which|who|is|are|do|does|did|can|could|will|would|should|"
    r"may|if|any|как|что|когда|где|почему|зачем|какой|какая|какие|сколько|можно|можете|"
    r"нужно|есть|ли|если|як|що|коли|де|чому|навіщо|який|яка|які|скільки|можна|чи|якщо)\b",
    re.IGNORECASE | re.UNICODE)
# "a", "an", "any", "items", "an order": a thing in general, not the customer's.
_GENERIC_THING = _words(
    r"an? (?:item|product|order|device|parcel|package|gift|tv|phone|laptop|tablet)|"
    r"any (?:item|product|order)|items|products|orders|something|anything|"
    r"товар|товары|вещь|заказ|любой|любые|что-то|что-нибудь|"
    r"товари|річ|замовлення|будь-який|щось")
# The assistant's jobs said as commands: "return", "cancel", "track", at the start.
_IMPERATIVE = re.compile(
    r"^\W*(?:please\s+|pls\s+)?(?:return|cancel|track|change|refund|repair|replace|send|start|"
    r"open|file|check|look up|find|верните|вернуть|отмените|отменить|отследите|отследить|"
    r"проверьте|проверить|поменяйте|измените|оформите|оформить|почините|"
    r"поверніть|повернути|скасуйте|скасувати|відстежте|перевірте|перевірити|змініть|"
    r"оформіть|оформити|полагодьте)\b",
    re.IGNORECASE | re.UNICODE)
# A reason the customer gives for sending their item back: it is theirs, and a request.
_REASON = _stems(
    r"don'?t (?:need|want|like)|do not (?:need|want|like)|changed my mind|not what i (?:expected|"
    r"ordered)|wrong (?:size|colou?r|item|model|length)|too (?:big|small|short|long|heavy)|"
    r"doesn'?t fit|didn'?t fit|"
    r"не нуж|не понрав|не подош|не подходит|передумал|не тот|не та |не того|не того цвета|"
    r"слишком (?:большой|маленький|короткий|длинный|тяж)|"
    r"не потріб|не сподоба|не підійш|не підходить|передумав|передумала|не той|не та |"
    r"закороткий|завеликий|замалий|занадто")
# The customer doing it now: "I'm returning", "возвращаю", "повертаю", "sending it back".
_DOING = _words(
    r"i'?m (?:returning|sending|cancelling|canceling)|i am (?:returning|sending|cancelling)|"
    r"возвращаю|отправляю|отменяю|сдаю|верну|"
    r"повертаю|відправляю|скасовую|здаю|поверну")
# One item of the customer's, pointed at: "the speaker I got", "this watch", "the headphones
# that came yesterday", "ноутбук, который я купил", "цей годинник". A how-to question about
# such an item ("how do I send back the speaker I got?") asks us to act on it; the same
# question about "a speaker" or "items bought on sale" asks how the rules work.
_ITEM = (r"(?:phone|laptop|tablet|tv|headphones|earbuds|watch|charger|case|speaker|camera|"
         r"monitor|keyboard|mouse|item|order|parcel|package|one|thing|"
         r"телефон|ноутбук|планшет|телевизор|наушник|час|зарядк|чехол|колонк|камер|товар|"
         r"заказ|посылк|вещ|"
         r"телевізор|навушник|годинник|чохол|замовлен|посилк|річ)\w*")
_OWN_ITEM = re.compile(
    r"\b(?:the|this|these|that|those)\s+(?:[\w-]+\s+){0,3}?(?:(?:that|which)\s+)?(?:i|we)\s+"
    r"(?:just\s+|recently\s+|already\s+)?(?:bought|ordered|got|received|purchased|paid for)\b|"
    r"\b(?:that|which)\s+(?:came|arrived|was delivered|you (?:sent|delivered))\b|"
    rf"\b(?:this|these)\s+(?:[\w-]+\s+)?{_ITEM}|"
    # Russian and Ukrainian: "который я купил", "що я замовив", "який прийшов", "этот чехол".
    r"(?<![^\W\d_])(?:"
    r"котор(?:ый|ую|ое|ые|ых|ого)\s+(?:я\s+|мы\s+)?(?:\w+\s+)?(?:купил|заказал|получил|"
    r"пришл|пришёл|привезли|доставили)|"
    r"(?:что|що)\s+(?:я|мы|ми)\s+(?:\w+\s+)?(?:купил|заказал|получил|купив|купила|замовив|"
    r"замовила|отримав|отримала)|"
    r"(?:який|яку|яке|які|якого)\s+(?:я\s+|ми\s+)?(?:\w+\s+)?(?:купив|купила|купили|замовив|"
    r"замовила|замовили|отримав|отримала|прийш|привезли|доставили)|"
    rf"(?:этот|эта|эту|эти|этого|этих|цей|ця|цю|ці|цього|цих)\s+(?:\w+\s+)?{_ITEM})",
    re.IGNORECASE | re.UNICODE)
# A day in the past: "yesterday", "last week", "вчера", "минулого тижня": something happened.
_TIME_ANCHOR = _words(
    r"yesterday|last (?:week|month|friday|monday|tuesday|wednesday|thursday|saturday|sunday)|"
    r"this morning|(?:a|one|two|three|\d+) (?:days?|weeks?|months?) ago|the other day|"
    r"вчера|позавчера|на (?:прошлой|этой) неделе|в прошлом месяце|сегодня утром|"
    r"(?:неделю|месяц|\d+ (?:дня|дней|недели|недель)) назад|на днях|"
    r"вчора|позавчора|минулого (?:тижня|місяця)|цього тижня|сьогодні вранці|"
    r"(?:тиждень|місяць|\d+ (?:дні|днів|тижні|тижнів)) тому|днями")
# "still": a state question about a thing the customer has ("still under warranty?").
_STILL = _words(r"still|yet|already|ещё|еще|уже|все ещё|досі|вже|ще")


def has_order_reference(text: str) -> bool:
    return bool(_ORDER_REF.search(text) or _EMAIL.search(text) or _PHONE.search(text)
                or _SERIAL.search(text))


def _has_question_mark(text: str) -> bool:
    return "?" in text


# Each cue: a test or a pattern to find, in the order of the router's features (a stored
# model names them, and a model with other cues is refused).
_CUE_TESTS: tuple[tuple[str, re.Pattern[str] | Callable[[str], bool]], ...] = (
    ("order_ref", has_order_reference), ("possessive", _POSSESSIVE),
    ("past_event", _PAST_EVENT), ("want", _WANT), ("ask_action", _ASK_ACTION),
    ("fault", _FAULT), ("generic_frame", _GENERIC_FRAME), ("question_start", _QUESTION_START),
    ("question_mark", _has_question_mark), ("generic_thing", _GENERIC_THING),
    ("imperative", _IMPERATIVE), ("still", _STILL), ("reason", _REASON), ("doing", _DOING),
    ("own_item", _OWN_ITEM), ("time_anchor", _TIME_ANCHOR),
)


def _as_test(test: re.Pattern[str] | Callable[[str], bool]) -> Callable[[str], bool]:
    if isinstance(test, re.Pattern):
        return lambda text: test.search(text) is not None
    return test


CUES: dict[str, Callable[[str], bool]] = {name: _as_test(test) for name, test in _CUE_TESTS}

# Pairs whose meaning is more than the sum: "my" in a how-to question is still a question,
# "my" with a fault or an order number is a request.
PAIRS = (
    ("possessive", "generic_frame"), ("possessive", "fault"), ("possessive", "question_mark"),
    ("possessive", "still"), ("order_ref", "question_mark"), ("order_ref", "generic_frame"),
    ("want", "generic_frame"), ("ask_action", "possessive"), ("ask_action", "order_ref"),
    ("past_event", "generic_frame"), ("generic_thing", "generic_frame"),
    ("fault", "question_mark"), ("imperative", "question_mark"),
    ("reason", "generic_frame"), ("reason", "question_mark"), ("past_event", "question_mark"),
    ("own_item", "generic_frame"), ("own_item", "question_mark"),
    ("time_anchor", "generic_frame"), ("time_anchor", "question_mark"),
)


def cues(text: str) -> dict[str, bool]:
    """Every cue and every pair of cues, by name."""
    found = {name: test(text) for name, test in CUES.items()}
    for a, b in PAIRS:
        found[f"{a}&{b}"] = found[a] and found[b]
    return found


def cue_names() -> list[str]:
    return [*CUES, *(f"{a}&{b}" for a, b in PAIRS)]
