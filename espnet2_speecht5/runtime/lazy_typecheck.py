"""Run-time type checks that are instrumented on first call instead of at import.

ESPnet (and inflect, through g2p_en) decorate hundreds of functions with typeguard's
``@typechecked``. typeguard instruments a function by reading and parsing its module's source and
compiling a checked copy, at decoration time: importing ESPnet's ASR task paid about 6 s of it in
every process on a 2-core machine (12-14 s without this module, 7-7.6 s with it), and a recipe
starts a dozen such processes.

:func:`install` replaces ``typeguard.typechecked`` by :func:`lazy_typechecked`, which wraps a plain
function so that typeguard instruments it when it is first called; the checks themselves are
typeguard's, unchanged, for every function that runs. Classes, class/static methods, generators and
coroutines are handed to typeguard at once, as before. Only modules imported after :func:`install`
see the lazy decorator: ``espnet2_speecht5/__init__.py`` installs it before anything imports
ESPnet. ``SPEECHT5_EAGER_TYPECHECK=1`` in the environment leaves typeguard alone.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from typing import Any, Callable, Optional

import typeguard

_EAGER: Callable[..., Any] = typeguard.typechecked
_LOCK = threading.Lock()


def _instrument_on_first_call(target: Callable[..., Any], options: dict) -> Callable[..., Any]:
    checked: Optional[Callable[..., Any]] = None

    @functools.wraps(target)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal checked
        if checked is None:
            with _LOCK:
                if checked is None:
                    checked = _EAGER(target, **options)
        return checked(*args, **kwargs)

    wrapper.__speecht5_lazy_typecheck__ = True  # type: ignore[attr-defined]
    return wrapper


def lazy_typechecked(target: Any = None, **options: Any) -> Any:
    """``typeguard.typechecked`` with the same arguments; plain functions are instrumented lazily."""
    if target is None:
        return functools.partial(lazy_typechecked, **options)
    plain = inspect.isfunction(target) and not (
        inspect.isgeneratorfunction(target)
        or inspect.iscoroutinefunction(target)
        or inspect.isasyncgenfunction(target)
    )
    if not plain:
        return _EAGER(target, **options)
    return _instrument_on_first_call(target, options)


def install() -> bool:
    """Make ``typeguard.typechecked`` lazy (unless ``SPEECHT5_EAGER_TYPECHECK=1``); True if it now is."""
    if os.environ.get("SPEECHT5_EAGER_TYPECHECK", "") not in ("", "0"):
        return False
    typeguard.typechecked = lazy_typechecked
    return True
