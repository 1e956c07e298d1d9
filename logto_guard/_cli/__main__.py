"""``python -m logto_guard._cli``: the same as the ``logto-guard`` command."""

from . import entry

entry()
