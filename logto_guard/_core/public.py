"""Give public names their public home: ``__module__`` is the module users import from."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable, Mapping


def publish(module: str, names: Iterable[str], namespace: Mapping[str, object]) -> None:
    """Set ``__module__`` of each class and function in ``names`` to ``module``.

    Reprs, tracebacks and docs then show ``logto_guard.AuthInfo``, not the private path.
    Class annotations (and dataclass field types) are resolved first: ``get_type_hints``
    and pydantic look names up in ``sys.modules[cls.__module__]``, which does not hold them.
    """
    for name in names:
        value = namespace[name]
        if inspect.isclass(value):
            own = inspect.get_annotations(value)
            if own and any(isinstance(hint, str) for hint in own.values()):
                try:
                    hints = typing.get_type_hints(value, include_extras=True)
                except NameError:  # a name imported for type checkers only: leave as is
                    pass
                else:
                    value.__annotations__ = {key: hints[key] for key in own}
                    for field in getattr(value, "__dataclass_fields__", {}).values():
                        field.type = hints.get(field.name, field.type)
            value.__module__ = module
        elif inspect.isfunction(value):
            value.__module__ = module
