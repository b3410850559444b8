"""The channels' shared edge checks: client ids, trusted proxies, client metadata, bounded
JSON (rasa_plugins/channels/client_identity.py)."""

from __future__ import annotations

import json

import pytest

from rasa_plugins.channels.client_identity import (
    MAX_BODY_BYTES,
    BadBody,
    EdgeSettingsError,
    Identity,
    client_address,
    client_id_key,
    client_metadata,
    loads,
    metadata_size,
    parse_networks,
)

PROXIES = parse_networks("127.0.0.1, 10.0.0.0/8")


def test_the_peer_is_the_client_unless_it_is_a_trusted_proxy() -> None:
    assert client_address("203.0.113.9", "198.51.100.1", PROXIES) == "203.0.113.9"
    assert client_address("127.0.0.1", "198.51.100.1", PROXIES) == "198.51.100.1"
    # the nearest hop that is not a trusted proxy: a client cannot prepend a fake one
    assert client_address("127.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.5", PROXIES) \
        == "198.51.100.1"
    assert client_address("127.0.0.1", "10.0.0.7", PROXIES) == "10.0.0.7"  # all trusted
    assert client_address("127.0.0.1", None, PROXIES) == "127.0.0.1"
    assert client_address("127.0.0.1", "198.51.100.1", ()) == "127.0.0.1"  # default: none


def test_trusted_proxies_must_be_addresses_or_blocks() -> None:
    assert parse_networks("") == ()
    with pytest.raises(EdgeSettingsError, match="CHANNEL_TRUSTED_PROXIES"):
        parse_networks("127.0.0.1,localhost")


def test_client_ids_are_keyed_hashes_never_the_address() -> None:
    identity = Identity(client_id_key({"CLIENT_ID_SECRET": "s1"}))
    first = identity.of_address("198.51.100.1", None)
    assert first.startswith("ip:") and len(first) == 35 and "198" not in first
    assert identity.of_address("198.51.100.1", "9.9.9.9") == first  # untrusted XFF ignored
    assert identity.of_address("::ffff:0:1", None) == identity.of_address("::ffff:0:0001", None)
    assert identity.of_address("198.51.100.2", None) != first
    assert identity.of_telegram_user(42).startswith("tg:")
    assert identity.of_telegram_user(42) != identity.of_telegram_user(43)
    other = Identity(client_id_key({"CLIENT_ID_SECRET": "s2"}))
    assert other.of_address("198.51.100.1", None) != first


def test_the_key_falls_back_to_the_widget_secret_and_is_required() -> None:
    assert client_id_key({"WIDGET_SESSION_SECRET": "w"}) == client_id_key(
        {"CLIENT_ID_SECRET": "w"})
    assert client_id_key({"CLIENT_ID_SECRET": "c", "WIDGET_SESSION_SECRET": "w"}) != \
        client_id_key({"WIDGET_SESSION_SECRET": "w"})
    with pytest.raises(EdgeSettingsError, match="CLIENT_ID_SECRET"):
        client_id_key({})


def test_client_metadata_is_kept_apart_from_the_systems_keys() -> None:
    raw = {"is_external": True, "client_id": "forged", "from": "agent", "status": "x",
           "display": "Talk to a person", "agent_name": "Eve", "handoff": "kept",
           "language": "RU", "order": "ORB-1"}
    metadata = client_metadata(raw, "ip:abc")
    assert metadata == {"client_id": "ip:abc", "language": "ru", "client": raw}
    assert client_metadata({"language": "xx"}, "ip:abc") == {
        "client_id": "ip:abc", "client": {"language": "xx"}}
    assert client_metadata({"language": 5}, "ip:abc")["client"] == {"language": 5}
    assert client_metadata(None, "ip:abc") == {"client_id": "ip:abc"}


def test_bodies_are_bounded_in_size_and_depth() -> None:
    assert loads(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    with pytest.raises(BadBody) as big:
        loads(b" " * (MAX_BODY_BYTES + 1))
    assert big.value.status == 413
    for deep in (b"[" * 5000 + b"]" * 5000, b'{"m": ' + b"[" * 9 + b"]" * 9 + b"}",
                 json.dumps({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {}}}}}}}}})
                 .encode()):
        with pytest.raises(BadBody, match="nests too deeply") as nested:
            loads(deep)
        assert nested.value.status == 400
    assert loads(b"[" * 8 + b"]" * 8) == [[[[[[[[]]]]]]]]
    for bad in (b"", b"{", b"\xff\xfe\x00", b"nan-ish"):
        with pytest.raises(BadBody, match="must be JSON"):
            loads(bad)


def test_metadata_size_is_its_stored_json() -> None:
    assert metadata_size({"a": "é"}) == len('{"a":"é"}'.encode())
