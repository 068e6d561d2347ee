"""Errors a user can cause and fix: shown as one line, never as a traceback."""


class ChatforgeError(Exception):
    """A problem with the user's input, files, config or models.

    The message names the thing at fault and how to fix it; the CLI prints it on one line
    and exits non-zero.
    """


class ConfigError(ChatforgeError):
    """A bad or missing bot folder or setting."""


class LoadError(ChatforgeError):
    """A file that cannot be read as a document (empty, binary, corrupt, encrypted...)."""


class ModelError(ChatforgeError):
    """A model that is missing, corrupt or of the wrong kind."""
