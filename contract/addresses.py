"""Who a request comes from, behind trusted proxies: the one rule the Rasa channels
(``rasa_plugins/channels/client_identity.py``) and the handoff service's login throttle
(``handoff/throttle.py``) share. Pure standard library, so both environments import it.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_ADDRESS_CHARS = 64


def address(value: str) -> Address | None:
    """The IP address written in ``value`` (brackets of an IPv6 literal allowed), or None."""
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def trusted(value: str, proxies: tuple[Network, ...]) -> bool:
    found = address(value)
    return found is not None and any(found in network for network in proxies)


def client_address(peer: str | None, forwarded_for: str | None,
                   proxies: tuple[Network, ...]) -> str:
    """The client of a request: the peer, or, when the peer is a trusted proxy, the
    nearest address in ``X-Forwarded-For`` that is not a trusted proxy itself."""
    client = (peer or "unknown")[:MAX_ADDRESS_CHARS]
    if not proxies or not forwarded_for or not trusted(client, proxies):
        return client
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not trusted(hop, proxies):
            return hop[:MAX_ADDRESS_CHARS]
        client = hop[:MAX_ADDRESS_CHARS]
    return client
