"""The base class of every problem a user can fix (a bad config value, a missing model, an
unwritable folder): the CLI prints its message in one line and exits 2. Anything else is a
bug and keeps its traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the input or the installation, explained in one line by its message."""
