"""Training: the loop (a generator of per-epoch records), early stopping, splits, metrics.

Pure library: nothing here prints; errors are the typed ones from :mod:`dlcli.errors`; all
randomness comes from the ``np.random.Generator`` passed in.
"""

from .early_stopping import EarlyStopping
from .loop import Trainer
from .metrics import classification_metrics, regression_metrics
from .record import EpochRecord
from .splits import epoch_batches, iter_minibatches, train_val_indices, train_val_split

__all__ = [
    "EarlyStopping",
    "EpochRecord",
    "Trainer",
    "classification_metrics",
    "epoch_batches",
    "iter_minibatches",
    "regression_metrics",
    "train_val_indices",
    "train_val_split",
]
