"""Public names imported when first used (PEP 562), for a package's ``__init__``.

``import dispatch_sim`` (and every CLI command) should not pay for numba, pandas, networkx, scipy or
matplotlib until a name that needs them is asked for.
"""

from __future__ import annotations

import importlib
from typing import Callable


def lazy_names(package: str, namespace: dict, names: dict[str, str]) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``names`` maps each public name to the
    submodule that defines it; a name is imported once, then kept in ``namespace`` (the package's
    ``globals()``)."""

    def __getattr__(name: str):
        mod = names.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{mod}", package), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
