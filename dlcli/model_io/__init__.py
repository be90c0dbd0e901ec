"""The HDF5 model file: a Keras legacy model plus a ``dlcli`` group of its own.

Public API::

    save_model(path, model, *, schema=None, metadata=None, training_state=None) -> None
    load_model(path) -> LoadedModel
    load_weights_into(model, path) -> None        # warm start: weights only, shapes checked
    read_summary(path) -> dict                    # for `dlcli inspect`, without building

The layout is documented in docs/model-format.md.
"""

from .format import FORMAT_NAME, FORMAT_VERSION, LoadedModel
from .reader import load_model, load_weights_into
from .summary import read_summary
from .writer import save_model

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "LoadedModel",
    "load_model",
    "load_weights_into",
    "read_summary",
    "save_model",
]
