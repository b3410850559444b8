"""Who is talking, and what a client may say about itself: the checks every channel shares.

*Client identity.* Every channel puts ``metadata["client_id"]`` on each message it hands to
Rasa, computed by the channel itself, never taken from the client: ``ip:<hex>`` for REST and
the widget (the client's address), ``tg:<hex>`` for Telegram (the sender's user id). The hex
is an HMAC-SHA256 under ``CLIENT_ID_SECRET`` (falling back to ``WIDGET_SESSION_SECRET``,
which every Rasa process has already), so the tracker never holds an address and the same
client has the same id on every process. The actions count failed verifications per client
by it (``actions/lookup_locks.py``); the channels' rate limits count messages by it.

The client address is the TCP peer; ``X-Forwarded-For`` counts only when the peer is one of
``CHANNEL_TRUSTED_PROXIES`` (addresses or CIDR blocks, default none), and then the nearest
hop that is not a trusted proxy itself is the client: the same rule as the console's
``HANDOFF_TRUSTED_PROXIES`` (``handoff/throttle.py``), kept apart because the channels
run in the Rasa process, which does not ship the handoff service.

*Client metadata.* What a REST client sends as ``metadata`` is kept, but under one key,
``metadata["client"]``: the system's own keys (``is_external``, ``client_id``, ``from``,
``status``, ``display``, ``agent_name``, ``handoff``, ``handoff_message_id``...) are read
at the top level by the actions, the handoff service and the metrics, so nothing a client
writes can reach them, whatever key a later change starts to read. Only ``language`` is
lifted to the top level, and only as one of the supported language codes.

Pure Python (no Rasa imports), so the tests import it from the services' environment.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contract.addresses import Network, client_address
from contract.addresses import address as _address
from contract.settings import SettingsError

LANGUAGES = ("en", "ru", "uk")
CLIENT_KEY = "client"          # where a client's own metadata goes
MAX_BODY_BYTES = 64 * 1024     # a REST request body: a 4,000-character message of emoji
#                                sent \u-escaped is 48 KB, plus the metadata
MAX_METADATA_BYTES = 4 * 1024  # a REST client's metadata, serialized
MAX_JSON_DEPTH = 8             # objects/arrays inside one another in a request body
HASH_HEX_CHARS = 32



class EdgeSettingsError(SettingsError):
    """A channel setting cannot work; the message names the variable to fix."""


class BadBody(ValueError):
    """A request body the channel refuses; ``status`` is 400 or 413."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# Settings -----------------------------------------------------------------------------------

def parse_networks(raw: str, variable: str = "CHANNEL_TRUSTED_PROXIES") -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR blocks; ``EdgeSettingsError`` naming the variable."""
    networks = []
    for value in raw.split(","):
        if value.strip():
            try:
                networks.append(ipaddress.ip_network(value.strip(), strict=False))
            except ValueError:
                raise EdgeSettingsError(
                    f"{variable} must be IP addresses or CIDR blocks, comma-separated "
                    f"(e.g. 127.0.0.1,10.0.0.0/8); {value.strip()!r} is neither") from None
    return tuple(networks)


def client_id_key(environ: Mapping[str, str]) -> bytes:
    """The key of the client-id HMAC: ``CLIENT_ID_SECRET``, else ``WIDGET_SESSION_SECRET``
    (derived, so the two uses never share a key)."""
    secret = environ.get("CLIENT_ID_SECRET") or environ.get("WIDGET_SESSION_SECRET")
    if not secret:
        raise EdgeSettingsError(
            "CLIENT_ID_SECRET (or WIDGET_SESSION_SECRET) is not set: the channels name each "
            "client by a keyed hash of its address or Telegram user id. Set one to a long "
            "random value, the same on every Rasa process (`make run` makes one in var/).")
    return hmac.new(secret.encode(), b"orbita channel client id", hashlib.sha256).digest()


# Client identity ----------------------------------------------------------------------------

def client_id(key: bytes, kind: str, value: object) -> str:
    """``<kind>:<hex>``: a keyed hash of an address (``ip``) or Telegram user id (``tg``)."""
    text = str(value)
    if kind == "ip":
        address = _address(text)
        text = str(address) if address is not None else text  # one spelling per address
    digest = hmac.new(key, f"{kind}\0{text}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:HASH_HEX_CHARS]}"


# Client metadata ----------------------------------------------------------------------------

def language_of(value: object) -> str | None:
    text = str(value or "").strip().lower()[:2] if isinstance(value, str) else ""
    return text if text in LANGUAGES else None


def client_metadata(raw: Mapping[str, Any] | None, client: str) -> dict[str, Any]:
    """What the channel hands Rasa as ``metadata``: its own ``client_id``, a supported
    ``language`` if the client gave one, and the client's metadata under ``client``."""
    metadata: dict[str, Any] = {"client_id": client}
    if raw:
        language = language_of(raw.get("language"))
        if language:
            metadata["language"] = language
        metadata[CLIENT_KEY] = dict(raw)
    return metadata


# Bounded JSON -------------------------------------------------------------------------------

def depth(value: Any, limit: int) -> int:
    """How deeply objects and arrays nest in ``value``, counting up to ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            level += 1
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children: Iterable[Any] = item.values() if isinstance(item, dict) else item
            stack.extend((child, level) for child in children if isinstance(child, dict | list))
    return deepest


def loads(body: bytes, max_bytes: int = MAX_BODY_BYTES,
          max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A request body parsed as JSON, its size checked first; ``BadBody`` when refused."""
    if len(body) > max_bytes:
        raise BadBody(413, f"the request body is too large: at most {max_bytes} bytes")
    try:
        value = json.loads(body or b"")
    except RecursionError:
        raise BadBody(400, f"the request body nests too deeply: at most {max_depth} "
                           "levels of objects and arrays") from None
    except (ValueError, UnicodeDecodeError):
        raise BadBody(400, "the request body must be JSON: "
                           '{"sender": "<conversation id>", "message": "<text>"}') from None
    if depth(value, max_depth) > max_depth:
        raise BadBody(400, f"the request body nests too deeply: at most {max_depth} levels "
                           "of objects and arrays")
    return value


def metadata_size(metadata: Any) -> int:
    """The serialized size of ``metadata``, in bytes (as it would be stored)."""
    text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-8", "surrogatepass"))  # an unpaired surrogate is 3 bytes


@dataclass(frozen=True)
class Identity:
    """How a channel names its clients: the HMAC key and the trusted proxies."""

    key: bytes
    proxies: tuple[Network, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Identity:
        return cls(client_id_key(environ),
                   parse_networks(environ.get("CHANNEL_TRUSTED_PROXIES", "")))

    def of_address(self, peer: str | None, forwarded_for: str | None) -> str:
        return client_id(self.key, "ip", client_address(peer, forwarded_for, self.proxies))

    def of_telegram_user(self, user_id: object) -> str:
        return client_id(self.key, "tg", user_id)
