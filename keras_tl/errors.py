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
