"""What the product's deployable parts share: their contract, and the only package they
import from one another (``tests/contract/test_import_rules.py`` enforces it).

- ``payload`` and ``signing``: the escalation, status and security-event webhook bodies the
  action server sends the handoff service, and their HMAC signature;
- ``session_marker``: how a new Rasa session says it continues a handoff;
- ``metrics_tables``: the service-quality record (the action server writes survey answers);
- ``addresses``: the client of a request behind trusted proxies;
- ``tables``: the registry of every table a conversation lives in, which erasure and
  retention (``metrics/erase.py``) loop over.

Pure: the standard library and SQLAlchemy constructs only, no import of any part, so every
environment (Rasa's and the services') can import it.
"""
