"""What the product's deployable parts share: their contract.

So far the registry of every table a conversation lives in (``contract.tables``), which
erasure and retention (``bot/metrics/erase.py``) loop over. Pure: SQLAlchemy constructs
only, no import of the parts that own the tables, so every environment can import it.
"""
