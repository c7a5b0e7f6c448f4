"""Errors that are the user's to fix: reported in one paragraph, without a traceback."""


class UserError(Exception):
    """A mistake in the command, the config or the working tree.

    The entry point prints the message and exits with `exit_code` (2 by default), without
    a traceback: the message itself says what is wrong and how to fix it.
    """

    exit_code = 2
