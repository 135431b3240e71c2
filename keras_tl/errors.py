"""The one exception type users see as a one-line message (the CLI prints it without a traceback)."""


class KerasTLError(Exception):
    """A problem with the user's input, data or environment, explained in one line."""


class ConfigError(KerasTLError):
    pass


class DataError(KerasTLError):
    pass


class ModelError(KerasTLError):
    pass


class RunFolderError(KerasTLError):
    pass


class WriteFailed(RunFolderError):
    """Writing the run folder failed (disk full, quota, permissions). Native writers such as h5py may be left in
    a broken state, so the CLI exits right after reporting it (see keras_tl/cli/main.py)."""
