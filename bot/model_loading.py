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

Installed by the tracker store (bot/trackers.py), which Rasa builds before it loads the
model; ``install()`` is idempotent. Fine-tuning and training use Rasa's own loader.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.utils.tensorflow.models import RasaModel

log = logging.getLogger(__name__)

_original = RasaModel.load.__func__  # type: ignore[attr-defined]
_installed = False


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


def install() -> None:
    global _installed  # noqa: PLW0603 - one patch per process
    if not _installed:
        RasaModel.load = classmethod(load_for_serving)  # type: ignore[method-assign,assignment]
        _installed = True
