"""Rasa's Redis lock store, with every change of a lock made atomically in Redis.

Rasa handles one conversation's messages one at a time by handing out tickets of a lock
kept in Redis. Rasa 3.6's ``RedisLockStore`` changes a lock by reading it, changing it in
the process and writing it back, in separate commands; two Rasa processes that take
messages of one conversation at the same moment both read the same lock, both write a
ticket with the same number, and both go ahead: the two turns run at once on the same
tracker, and the tracker store keeps the events of only one of them (a customer's message
disappears). Finishing a turn has the same race: deleting a lock nobody seemed to wait
for also deletes a ticket another process had just added.

Here each change (issue a ticket, drop expired tickets, finish a ticket and delete the
lock when nobody waits) runs in one Redis transaction that is retried when another
process changed the lock in between (``WATCH``/``MULTI``/``EXEC``), so tickets stay
unique and in order across any number of processes. Everything else is Rasa's: the same
keys, the same ticket lifetime (``TICKET_LOCK_LIFETIME``), the same waiting.

In ``endpoints.scaled.yml``: ``lock_store: {type: rasa_plugins.locks.AtomicRedisLockStore, url,
port, db, ...}`` with the keys of Rasa's ``type: redis``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore

T = TypeVar("T")

# The keys of Rasa's `type: redis` lock store (RedisLockStore's arguments).
KNOWN_KEYS = ("port", "db", "username", "password", "use_ssl", "ssl_certfile", "ssl_keyfile",
              "ssl_ca_certs", "key_prefix", "socket_timeout")


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: Any = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # named by module path: Rasa passes its config
            kwargs = {"host": endpoint_config.url or "localhost",
                      **{key: value for key, value in endpoint_config.kwargs.items()
                         if key in KNOWN_KEYS}}
        super().__init__(**kwargs)

    def _change(self, conversation_id: str,
                change: Callable[[TicketLock | None], tuple[TicketLock | None, T]]) -> T:
        """Apply ``change`` to the stored lock in one transaction; its result.

        ``change`` gets the lock (or None) and returns the lock to store (None: delete
        the key) and the result.
        """
        key = self.key_prefix + conversation_id

        def transaction(pipe: Any) -> T:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            stored, result = change(lock)
            pipe.multi()
            if stored is None:
                pipe.delete(key)
            else:
                pipe.set(key, stored.dumps())
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or TicketLock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        return self._change(conversation_id, issue)

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Finish the ticket, and delete the lock if nobody waits, in one transaction."""

        def finish(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, finish)
