"""Pure-NumPy neural-network core: layers, activations, losses, optimizers, schedules, model.

No I/O and no printing; errors are the typed ones from :mod:`dlcli.errors`; randomness comes
only from the ``np.random.Generator`` passed to :meth:`Sequential.build`.
"""

from .activations import ACTIVATIONS, get_activation
from .base import Layer
from .initializers import INITIALIZERS, get_initializer
from .layers import LAYERS, Activation, Dense, Dropout, layer_from_config
from .losses import LOSSES, Loss, get_loss
from .model import Sequential
from .normalization import BatchNormalization, Normalization
from .optimizers import OPTIMIZERS, Optimizer, clip_by_global_norm, get_optimizer, global_norm
from .schedules import SCHEDULES, Schedule, get_schedule

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LAYERS",
    "LOSSES",
    "OPTIMIZERS",
    "SCHEDULES",
    "Activation",
    "BatchNormalization",
    "Dense",
    "Dropout",
    "Layer",
    "Loss",
    "Normalization",
    "Optimizer",
    "Schedule",
    "Sequential",
    "clip_by_global_norm",
    "get_activation",
    "get_initializer",
    "get_loss",
    "get_optimizer",
    "get_schedule",
    "global_norm",
    "layer_from_config",
]
