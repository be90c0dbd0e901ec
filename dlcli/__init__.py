"""dlcli: deep learning from the shell.

The package is a library first: ``dlcli.nn`` (pure NumPy networks), ``dlcli.train``
(the training loop and metrics), ``dlcli.data`` (readers and preprocessing),
``dlcli.model_io`` (the HDF5 model file), ``dlcli.remote`` (local and S3 remotes) and
``dlcli.config``. ``dlcli.cli`` is a thin Typer layer over them.
"""

__version__ = "0.1.0"
