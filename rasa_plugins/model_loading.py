"""Rasa's TensorFlow models loaded for answering, without tracing their training step.

To load DIET or TED, Rasa 3.6 compiles the model and *trains it for one step* on one
example, only so that Keras creates the weights, then overwrites them with the saved
ones; tracing that training step was two thirds of Rasa's start-up on this machine
(41 s of model loading, 27 s of it in ``Model.fit``). For serving (not fine-tuning),
the weights are created here by the prediction Rasa runs anyway to warm up, the saved
weights are loaded into them (TensorFlow matches checkpoint and model variables by
name; the optimiser's slots, which only training uses, stay unloaded), and everything
prepared from weights before they were loaded is prepared again. The answers are the
same to the last bit (tests/rasa_side/model_loading_check.py compares both loaders).

Also here, as the model is loaded: ``SESSION_EXPIRATION_MINUTES`` (minutes, a decimal
number; 0 turns sessions off, as in domain.yml), when set, replaces the trained domain's
``session_expiration_time`` for this process, so a deployment (or an end-to-end test, with
seconds) sets the expiry without retraining. Every Rasa process of a deployment must have
the same value.

Installed by the tracker store (rasa_plugins/trackers.py), which Rasa builds before it loads the
model; ``install()`` is idempotent and checks the setting first. Fine-tuning and training
use Rasa's own loader.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import Any

from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import SessionConfig
from rasa.utils.tensorflow.models import RasaModel

log = logging.getLogger(__name__)

SESSION_EXPIRATION_VAR = "SESSION_EXPIRATION_MINUTES"

_original = RasaModel.load.__func__
_original_processor_load = MessageProcessor._load_model
_installed = False
_session_minutes: float | None = None


class SessionSettingError(ValueError):
    """``SESSION_EXPIRATION_MINUTES`` is not a usable number of minutes."""


def session_minutes(env: Mapping[str, str] | None = None) -> float | None:
    """``SESSION_EXPIRATION_MINUTES`` as minutes; None when unset (the model's own)."""
    raw = (os.environ if env is None else env).get(SESSION_EXPIRATION_VAR, "").strip()
    if not raw:
        return None
    try:
        minutes = float(raw)
    except ValueError:
        minutes = math.nan
    if not math.isfinite(minutes) or minutes < 0:
        raise SessionSettingError(
            f"{SESSION_EXPIRATION_VAR}={raw!r}: expected the minutes of customer silence "
            "after which a new conversation session starts, a number >= 0 (e.g. 60, or "
            "0.05 for 3 seconds; 0 turns sessions off), or unset for domain.yml's value")
    return minutes


def with_session_config(processor_load: Any) -> Any:
    """Rasa's model loading for a processor, then the session expiry of the setting."""

    def load(model_path: Any) -> Any:
        filename, metadata, runner = processor_load(model_path)
        if _session_minutes is not None:
            domain = metadata.domain
            trained = domain.session_config
            domain.session_config = SessionConfig(_session_minutes, trained.carry_over_slots)
            log.info("session expiration: %s min (%s), the model's was %s min",
                     _session_minutes, SESSION_EXPIRATION_VAR, trained.session_expiration_time)
        return filename, metadata, runner

    return load


def load_for_serving(cls: type[RasaModel], model_file_name: str, model_data_example: Any,
                     predict_data_example: Any = None, finetune_mode: bool = False,
                     *args: Any, **kwargs: Any) -> RasaModel:
    if finetune_mode or predict_data_example is None:
        return _original(cls, model_file_name, model_data_example, predict_data_example,
                         finetune_mode, *args, **kwargs)
    model = cls(*args, **kwargs)
    # One eager prediction creates the weights prediction uses (tracing it would be
    # wasted: it is traced again once the weights are in).
    traced = model._run_eagerly
    model._run_eagerly = True
    model.run_inference(predict_data_example)
    model._run_eagerly = traced
    model.load_weights(model_file_name).expect_partial()
    # Label embeddings and the like were computed from the initial weights, and the
    # traced prediction captured them: both again.
    model.prepared_for_prediction = False
    model._tf_predict_step = None
    model.run_inference(predict_data_example)
    log.debug("loaded %s for serving", model_file_name)
    return model


def install(env: Mapping[str, str] | None = None) -> None:
    global _installed, _session_minutes  # noqa: PLW0603 - one patch per process
    _session_minutes = session_minutes(env)
    if not _installed:
        RasaModel.load = classmethod(load_for_serving)
        MessageProcessor._load_model = staticmethod(
            with_session_config(_original_processor_load))
        _installed = True
