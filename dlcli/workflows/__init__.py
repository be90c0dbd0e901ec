"""The application: the only layer that combines configuration, data, model files and remotes.

Each module is one thing a user does — a training run, prediction and evaluation, ``init``,
a sync — written as plain functions and classes over the engine packages (``train``,
``data``, ``model_io``, ``remote``), usable without the command line.
"""
