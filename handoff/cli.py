"""``python -m bot handoff`` runs the service; ``python -m bot agent ...`` manages accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from datetime import UTC, datetime

from contract.settings import database_url
from handoff.accounts import AccountError, Accounts
from handoff.app import run
from handoff.settings import HandoffSettings, SettingsError
from handoff.store import ROLES, create_schema, open_database
from metrics.erase import RetentionSettings, Stores
from metrics.retention import erase_and_log


def add_commands(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("handoff", help="run the handoff service and the agent console")
    agent = sub.add_parser("agent", help="manage agent accounts of the console")
    actions = agent.add_subparsers(dest="agent_command", required=True)
    add = actions.add_parser("add", help="create an agent account")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="display name customers see")
    add.add_argument("--max-chats", type=int, default=None,
                     help="chats at once (default HANDOFF_MAX_CHATS, 3)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of a prompt")
    add.add_argument("--role", choices=ROLES, default="agent",
                     help="supervisors also see the service-quality dashboard")
    role = actions.add_parser("role", help="make an account an agent or a supervisor")
    role.add_argument("username")
    role.add_argument("role", choices=ROLES)
    password = actions.add_parser("password", help="set a new password (ends its sessions)")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true")
    for name in ("disable", "enable"):
        actions.add_parser(name, help=f"{name} an account").add_argument("username")
    actions.add_parser("list", help="list accounts")
    erase = sub.add_parser("erase", help="erase a customer's conversation from every store "
                                         "(a request by e-mail; in chat, agents use the console)")
    erase.add_argument("conversation_id")
    erase.add_argument("--by", required=True, help="who erases it, for the erasure log")


def _db_url() -> str:
    return database_url(os.environ, "HANDOFF_DB_URL")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (10+ characters): ")
    if first != getpass.getpass("Again: "):
        raise AccountError("the two passwords differ")
    return first


async def _agent_command(args: argparse.Namespace) -> int:
    db = open_database(_db_url())
    try:
        await create_schema(db)
        accounts = Accounts(db, 12)
        if args.agent_command == "add":
            max_chats = args.max_chats or int(os.environ.get("HANDOFF_MAX_CHATS", "3"))
            agent = await accounts.add(args.username, args.name, _password(args.password_stdin),
                                       max_chats, args.role)
            print(f"{agent.role} {agent.username!r} ({agent.display_name}) created, "
                  f"up to {agent.max_chats} chats at once")
        elif args.agent_command == "role":
            await accounts.set_role(args.username, args.role)
            print(f"{args.username!r} is now a {args.role}")
        elif args.agent_command == "password":
            await accounts.set_password(args.username, _password(args.password_stdin))
            print(f"password of {args.username!r} changed; their sessions are ended")
        elif args.agent_command in ("disable", "enable"):
            await accounts.set_active(args.username, args.agent_command == "enable")
            print(f"{args.username!r} {args.agent_command}d")
        else:
            for agent in await accounts.all():
                state = "active" if agent.active else "disabled"
                print(f"{agent.username}\t{agent.display_name}\t{agent.role}\t"
                      f"{agent.max_chats} chats\t{state}")
        return 0
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.engine.dispose()


async def _erase(args: argparse.Namespace) -> int:
    try:
        stores = Stores.from_env()
        retention = RetentionSettings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = await erase_and_log(stores, args.conversation_id, f"cli:{args.by}",
                                 datetime.now(UTC), salt=retention.log_salt)
    print(f"erased {sum(counts.values())} rows: "
          + ", ".join(f"{k} {v}" for k, v in counts.items() if v) if any(counts.values())
          else "nothing stored for this conversation id (logged all the same)")
    return 0


def run_command(args: argparse.Namespace) -> int:
    if args.command == "agent":
        return asyncio.run(_agent_command(args))
    if args.command == "erase":
        return asyncio.run(_erase(args))
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = HandoffSettings.from_env()
    except SettingsError as exc:
        logging.getLogger("handoff").error("cannot start: %s", exc)
        return 2
    run(settings)
    return 0
