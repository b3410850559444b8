"""Rasa's check of the action server's answers, with the schema compiled once.

Rasa 3.6 checks every answer of the action server against its events schema with
``jsonschema.validate``, which first validates the schema itself against the JSON Schema
meta-schema and then builds a new validator, on every call. Under load that was two
thirds of the Rasa process's time (a profile of ten concurrent customers: 67 % of all
samples in ``RemoteAction._validate_action_result``, 65 % in ``check_schema``). Here the
schema is checked and the validator built once; every answer is still validated, against
the same schema, with the same error (``jsonschema.exceptions.best_match``) and message.

The events schema is a ``oneOf`` over 23 kinds of event, each naming its kind in
``event`` (a ``const``), so a valid event matches the one kind it names and fails every
other. Each event is therefore checked against the kind it names only; anything that
does not pass that way (an unknown kind, a wrong field, not a list) goes through the
full schema, so what is accepted and every error are exactly as before.

Installed by the tracker store (rasa_plugins/trackers.py), which every ``rasa run`` of this project
builds before it serves; ``install()`` is idempotent.
"""

from __future__ import annotations

from typing import Any

from jsonschema import ValidationError, validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_installed = False


def _compiled(schema: dict[str, Any]) -> Any:
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _per_kind(events: dict[str, Any]) -> dict[str, Any]:
    """For each kind of event, a validator of the event schema with only that kind."""
    common = {key: value for key, value in events.items() if key != "oneOf"}
    return {kind["properties"]["event"]["const"]: _compiled({**common, "allOf": [kind]})
            for kind in events["oneOf"]}


def _passes_by_kind(result: Any, kinds: dict[str, Any], responses: Any) -> bool:
    if not isinstance(result, dict):
        return False
    events = result.get("events", [])
    if not isinstance(events, list) or not responses.is_valid(result.get("responses", [])):
        return False
    for event in events:
        kind = event.get("event") if isinstance(event, dict) else None
        validator = kinds.get(kind) if isinstance(kind, str) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def install() -> None:
    """Replace ``RemoteAction._validate_action_result`` with the compiled check."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    spec = RemoteAction.action_response_format_spec()
    validator = _compiled(spec)
    kinds = _per_kind(spec["properties"]["events"]["items"])
    responses = _compiled(spec["properties"]["responses"])

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if _passes_by_kind(result, kinds, responses):
            return True
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions")
        raise error

    RemoteAction._validate_action_result = validate_action_result
    _installed = True


__all__ = ["ValidationError", "install"]
