"""One JSON request over HTTP, as the end-to-end clients make them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def exchange(request: urllib.request.Request, opener: urllib.request.OpenerDirector | None = None,
             timeout: float = 60) -> tuple[int, Any]:
    """``(status, body)`` of a request: the body parsed as JSON, also for an error status
    (an error body that is not JSON comes back as text)."""
    open_url = opener.open if opener is not None else urllib.request.urlopen
    try:
        with open_url(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"null")
        except ValueError:
            return exc.code, raw.decode(errors="replace")
