"""The load balancer of the scaled stack: an nginx configuration, written from the ports.

One nginx process (Debian's) serves two addresses:

* the assistant's (``RASA_PORT``): round-robin over the Rasa processes for HTTP (REST,
  the HTTP API, the widget's files); ``/socket.io/`` with the WebSocket upgrade, kept on
  one process per client address, because socket.io's long-polling fallback sends each
  poll of one session as a new request and only the process that opened the session
  knows it (a WebSocket is one connection and would work either way);
* the action servers' (``ACTIONS_PORT``): round-robin for Rasa's action calls.

A process that refuses the connection (it died, or has not started yet) is skipped:
``proxy_next_upstream error timeout`` passes the request to the next process only when
it was not sent yet, since nginx never resends a non-idempotent request (POST) once it
was sent (that would answer a customer's message twice), and only if the connection
fails or times out, never on an error status. Connections to the upstreams are not kept
alive: Sanic closes idle connections after a few seconds, and a POST sent on one just as
it closes would fail instead of being passed on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# How long a refused process is left out before it is tried again.
FAIL_TIMEOUT_SECONDS = 5
CONNECT_TIMEOUT_SECONDS = 2
# A turn that runs custom actions, a REST long poll (`wait` up to 60 s) and the action
# server's slowest call all end well within this.
READ_TIMEOUT_SECONDS = 300
# A widget's socket may stay quiet for long; socket.io pings every 25 s anyway.
SOCKET_TIMEOUT_SECONDS = 3600
# Largest request body: a customer's (the channels refuse long messages themselves), and
# an action call's, which carries the conversation's tracker.
CUSTOMER_BODY_LIMIT = "1m"
ACTION_BODY_LIMIT = "64m"


@dataclass(frozen=True)
class BalancerConfig:
    """What the configuration is written from."""

    folder: Path                     # nginx's prefix: pid file, temp folders
    host: str                        # the interface both addresses listen on
    rasa_port: int                   # the one address of the assistant
    rasa_upstreams: Sequence[int]    # Rasa processes on 127.0.0.1
    actions_port: int                # the one address of the action servers
    action_upstreams: Sequence[int]  # action servers on 127.0.0.1
    access_log: Path | None = None   # None: no access log (a busy shop's disk)


def _servers(ports: Sequence[int]) -> str:
    if not ports:
        raise ValueError("a balancer needs at least one upstream process")
    return "\n".join(f"        server 127.0.0.1:{port} max_fails=1 "
                     f"fail_timeout={FAIL_TIMEOUT_SECONDS}s;" for port in ports)


def render(config: BalancerConfig) -> str:
    """The whole ``nginx.conf`` (run with ``nginx -p <folder> -c <file> -e stderr``)."""
    folder = config.folder
    access = (f"access_log {config.access_log} upstream;" if config.access_log
              else "access_log off;")
    proxy = f"""\
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_next_upstream error timeout;
        proxy_connect_timeout {CONNECT_TIMEOUT_SECONDS}s;
        proxy_read_timeout {READ_TIMEOUT_SECONDS}s;
        proxy_send_timeout {READ_TIMEOUT_SECONDS}s;"""
    return f"""\
# Written by bot/balancer.py for `make run-scaled`; rewritten on every start.
daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log stderr warn;

events {{
    worker_connections 4096;
}}

http {{
    log_format upstream '$time_iso8601 $request_method $uri $status '
                        'upstream=$upstream_addr upstream_status=$upstream_status';
    {access}
    client_body_temp_path {folder / "tmp" / "body"};
    proxy_temp_path {folder / "tmp" / "proxy"};
    fastcgi_temp_path {folder / "tmp" / "fastcgi"};
    uwsgi_temp_path {folder / "tmp" / "uwsgi"};
    scgi_temp_path {folder / "tmp" / "scgi"};
    # Request bodies are kept in memory and responses passed on as they come: nginx never
    # writes a temporary file, so its workers need no folder of their own.
    client_body_buffer_size {CUSTOMER_BODY_LIMIT};
    client_max_body_size {CUSTOMER_BODY_LIMIT};
    proxy_max_temp_file_size 0;
    server_tokens off;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    upstream rasa {{
{_servers(config.rasa_upstreams)}
    }}

    upstream rasa_socketio {{
        hash $remote_addr consistent;
{_servers(config.rasa_upstreams)}
    }}

    upstream actions {{
{_servers(config.action_upstreams)}
    }}

    server {{
        listen {config.host}:{config.rasa_port};
{proxy}

        location /socket.io/ {{
            proxy_pass http://rasa_socketio;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_buffering off;
            proxy_read_timeout {SOCKET_TIMEOUT_SECONDS}s;
            proxy_send_timeout {SOCKET_TIMEOUT_SECONDS}s;
        }}

        location / {{
            proxy_pass http://rasa;
        }}
    }}

    server {{
        listen 127.0.0.1:{config.actions_port};
        # Rasa sends the conversation's tracker with every action call.
        client_body_buffer_size {ACTION_BODY_LIMIT};
        client_max_body_size {ACTION_BODY_LIMIT};
{proxy}

        location / {{
            proxy_pass http://actions;
        }}
    }}
}}
"""


def write(config: BalancerConfig) -> Path:
    """Write the configuration (and nginx's temp folders) into ``config.folder``."""
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (config.folder / "tmp" / name).mkdir(parents=True, exist_ok=True)
    path = config.folder / "nginx.conf"
    path.write_text(render(config))
    return path


def command(nginx: Path, conf: Path) -> list[str]:
    """The nginx command line: in the foreground, errors to stderr from the first line."""
    return [str(nginx), "-p", str(conf.parent), "-c", str(conf), "-e", "stderr"]
