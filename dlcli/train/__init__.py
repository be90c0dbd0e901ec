"""The training engine: the loop (a generator of per-epoch records), early stopping, Ctrl-C
deferral, records and callbacks.

Pure engine: it reads batches from a :class:`~dlcli.data.batches.BatchSource`, computes with
:mod:`dlcli.nn`, raises the typed errors of :mod:`dlcli.errors`, and draws all randomness from
the ``np.random.Generator`` passed in. Nothing here prints or writes a file.
"""

from .callbacks import Callback, OnEpoch, run_callbacks
from .early_stopping import EarlyStopping
from .loop import Trainer
from .record import EpochRecord

__all__ = ["Callback", "EarlyStopping", "EpochRecord", "OnEpoch", "Trainer", "run_callbacks"]
