"""The nginx configuration of the scaled stack: what it balances, and that nginx accepts it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bot import balancer
from bot.engines import NGINX


def config(folder: Path, **changes: object) -> balancer.BalancerConfig:
    values: dict[str, object] = {
        "folder": folder, "host": "127.0.0.1", "rasa_port": 15005,
        "rasa_upstreams": [15101, 15102], "actions_port": 15055,
        "action_upstreams": [15201, 15202, 15203], **changes}
    return balancer.BalancerConfig(**values)  # type: ignore[arg-type]


def block(text: str, head: str) -> str:
    """The body of the first ``head { ... }`` block (no nested blocks in upstreams)."""
    match = re.search(re.escape(head) + r" \{(.*?)\n    \}", text, re.S)
    assert match is not None, head
    return match.group(1)


def test_every_process_is_an_upstream_and_refused_ones_are_skipped(tmp_path: Path) -> None:
    text = balancer.render(config(tmp_path))
    for name, ports in (("rasa", [15101, 15102]), ("rasa_socketio", [15101, 15102]),
                        ("actions", [15201, 15202, 15203])):
        servers = re.findall(r"server 127\.0\.0\.1:(\d+) max_fails=1 fail_timeout=\d+s;",
                             block(text, f"upstream {name}"))
        assert servers == [str(port) for port in ports]
    # Round robin (nginx's default) for HTTP, one process per client for socket.io's polls.
    assert "hash" not in block(text, "upstream rasa")
    assert "hash $remote_addr consistent;" in block(text, "upstream rasa_socketio")
    assert "listen 127.0.0.1:15005;" in text and "listen 127.0.0.1:15055;" in text
    # Passed on only when the connection fails; a sent POST is never sent again.
    assert text.count("proxy_next_upstream error timeout;") == 2
    assert "non_idempotent" not in text and "http_50" not in text
    assert "keepalive" not in text
    # Bodies stay in memory and responses are not spooled: nginx writes no files.
    assert "proxy_max_temp_file_size 0;" in text
    assert text.count("client_body_buffer_size 1m;") == text.count("client_max_body_size 1m;")


def test_the_widget_socket_is_upgraded(tmp_path: Path) -> None:
    socket = block(balancer.render(config(tmp_path)), "location /socket.io/")
    assert "proxy_pass http://rasa_socketio;" in socket
    assert "proxy_set_header Upgrade $http_upgrade;" in socket
    assert "proxy_set_header Connection $connection_upgrade;" in socket


def test_a_balancer_needs_processes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one upstream"):
        balancer.render(config(tmp_path, action_upstreams=[]))


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    if not NGINX.exists():
        pytest.fail(f"{NGINX} is missing: run `bash scripts/test_servers.sh`", pytrace=False)
    conf = balancer.write(config(tmp_path, access_log=tmp_path / "access.log"))
    result = subprocess.run([*balancer.command(NGINX, conf), "-t"], capture_output=True,
                            text=True, check=False, timeout=30)
    assert result.returncode == 0, result.stderr
