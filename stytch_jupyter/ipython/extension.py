"""``%load_ext stytch_jupyter``: the ``%stytch`` magic, the ``stytch`` object, rich reprs.

Loading returns at once: the stored session is rehydrated on the session thread, and the heavy
imports (httpx, cryptography, keyring, ipywidgets) happen there or on first use.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from ..config import Stytch
from .stytch_object import NotebookStytch

MAGIC_NAME = "stytch"
NAMESPACE_NAME = "stytch"
_MISSING = object()

_lock = threading.RLock()
_instance: NotebookStytch | None = None
# What ``stytch`` named in the user's namespace before we took the name (e.g. Stytch's own
# backend SDK, ``import stytch``): given back on unload.
_shadowed: Any = _MISSING


def _current_shell() -> Any:
    # Only a shell that already exists: a plain script must not import IPython for this.
    if "IPython" not in sys.modules:
        return None
    from IPython.core.getipython import get_ipython

    return get_ipython()


def _config_for(shell: Any) -> Stytch:
    if shell is None:
        return Stytch()
    # parent=shell: `c.Stytch.x` in ipython_config.py (the shell's config) applies.
    try:
        config = Stytch(parent=shell)
    except Exception:  # a shell that is not a traitlets Configurable
        config = Stytch(config=getattr(shell, "config", None))
    configurables = getattr(shell, "configurables", None)
    if configurables is not None and config not in configurables:
        configurables.append(config)  # so `%config Stytch` lists and sets it
    return config


def _get_or_create(shell: Any) -> NotebookStytch:
    global _instance
    with _lock:
        if _instance is None:
            _instance = NotebookStytch(_config_for(shell))
            if shell is not None:
                # `from stytch_jupyter import stytch` in a notebook, without %load_ext: its
                # sessions and users should look the same (idempotent; unload removes them).
                _formatters("register_formatters", shell)
        return _instance


def get_stytch() -> NotebookStytch:
    """The process-wide ``stytch`` object, created (and started) on first use."""
    instance = _get_or_create(_current_shell())
    instance.start()  # idempotent; rehydrates in the background
    return instance


def load_ipython_extension(ip: Any) -> None:
    global _shadowed
    from .kernel_check import warn_if_bad_kernel

    warn_if_bad_kernel()
    stytch = _get_or_create(ip)
    if not _magic_is_ours(ip, stytch):
        from .magics import StytchMagics

        ip.register_magics(StytchMagics(ip, stytch))
    _register_completer(ip)

    current = ip.user_ns.get(NAMESPACE_NAME, _MISSING)
    if current is not stytch:
        if current is not _MISSING:
            print(
                f"stytch_jupyter: `{NAMESPACE_NAME}` now names the session object; the "
                f"{type(current).__name__} it named before is back after %unload_ext.",
                file=sys.stderr,
            )
        _shadowed = current
        ip.push({NAMESPACE_NAME: stytch})

    _formatters("register_formatters", ip)
    # Last: the session thread's imports and disk reads would otherwise compete with the
    # registrations above for the GIL while the kernel waits.
    stytch.start()


def unload_ipython_extension(ip: Any) -> None:
    global _instance, _shadowed
    with _lock:
        stytch, _instance = _instance, None
    magics = ip.magics_manager.magics
    magics["line"].pop(MAGIC_NAME, None)
    magics["cell"].pop(MAGIC_NAME, None)
    ip.magics_manager.registry.pop("StytchMagics", None)
    _unregister_completer(ip)
    _formatters("unregister_formatters", ip)
    if stytch is None:
        return
    if ip.user_ns.get(NAMESPACE_NAME, _MISSING) is stytch:
        if _shadowed is _MISSING:
            del ip.user_ns[NAMESPACE_NAME]
        else:
            ip.user_ns[NAMESPACE_NAME] = _shadowed
    _shadowed = _MISSING
    configurables = getattr(ip, "configurables", None)
    if configurables is not None and stytch.config in configurables:
        configurables.remove(stytch.config)
    stytch.close()


def _magic_is_ours(ip: Any, stytch: NotebookStytch) -> bool:
    bound = ip.magics_manager.magics["line"].get(MAGIC_NAME)
    return getattr(getattr(bound, "__self__", None), "manager", None) is stytch


def _formatters(name: str, ip: Any) -> None:
    from . import reprs

    getattr(reprs, name)(ip)


def _register_completer(ip: Any) -> None:
    from .magics import complete_stytch

    matchers = getattr(getattr(ip, "Completer", None), "custom_matchers", None)
    if matchers is not None and complete_stytch not in matchers:
        matchers.append(complete_stytch)


def _unregister_completer(ip: Any) -> None:
    from .magics import complete_stytch

    matchers = getattr(getattr(ip, "Completer", None), "custom_matchers", None)
    while matchers is not None and complete_stytch in matchers:
        matchers.remove(complete_stytch)
