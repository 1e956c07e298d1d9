"""``python -m logto_guard``: the ``logto-guard`` command (``inspect``, ``token``)."""

from ._cli import entry

entry()
