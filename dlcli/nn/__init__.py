"""Pure-NumPy neural-network core: layers, activations, losses, metrics, optimizers,
schedules, initialisers, the model, and the task table.

No I/O and no printing; errors are the typed ones from :mod:`dlcli.errors`; randomness comes
only from the ``np.random.Generator`` passed to :meth:`Sequential.build`. Everything chosen by
name lives in a :class:`~dlcli.nn.registry.Registry`, all of them in :data:`REGISTRIES`.
"""

from .activations import ACTIVATIONS, get_activation
from .attribution import QUADRATURES
from .base import Layer
from .initializers import INITIALIZERS, get_initializer
from .kernels import KERNELS
from .layers import LAYERS, Activation, Dense, Dropout, layer_from_config
from .losses import LOSSES, Loss, get_loss
from .model import Sequential
from .normalization import BatchNormalization, Normalization
from .optimizers import OPTIMIZERS, Optimizer, clip_by_global_norm, get_optimizer, global_norm
from .registry import Registry
from .schedules import SCHEDULES, Schedule, get_schedule
from .tasks import TASKS, Task, get_task

REGISTRIES: dict[str, Registry] = {  # type: ignore[type-arg]
    registry.kind: registry
    for registry in (ACTIVATIONS, INITIALIZERS, KERNELS, LAYERS, LOSSES, OPTIMIZERS, QUADRATURES, SCHEDULES)
}

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "KERNELS",
    "LAYERS",
    "LOSSES",
    "OPTIMIZERS",
    "QUADRATURES",
    "REGISTRIES",
    "SCHEDULES",
    "TASKS",
    "Activation",
    "BatchNormalization",
    "Dense",
    "Dropout",
    "Layer",
    "Loss",
    "Normalization",
    "Optimizer",
    "Registry",
    "Schedule",
    "Sequential",
    "Task",
    "clip_by_global_norm",
    "get_activation",
    "get_initializer",
    "get_loss",
    "get_optimizer",
    "get_schedule",
    "get_task",
    "global_norm",
    "layer_from_config",
]
