"""Which keyring backend may hold the key: the checks that run wherever keyring is asked.

They run in the keyring helper process (``keyring_child``) or, for a backend object this
process already holds, in this process; either way they refuse, before touching them:

- keyring's ``fail``/``null`` backends and a chainer with nothing behind it;
- D-Bus backends (Secret Service, KWallet) when ``DBUS_SESSION_BUS_ADDRESS`` is unset: such a
  process (SSH, cron, a container) is not part of a desktop session, and jeepney's fallback to
  ``$XDG_RUNTIME_DIR/bus`` would reach a keyring nobody is there to unlock;
- a Secret Service collection that is locked: keyring would call ``unlock()``, which pops a
  dialog and blocks until someone answers it;
- a closed KWallet wallet, for the same reason.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any


def backend_name(backend: object) -> str:
    """The backend's class as ``module.QualName``: how keyring names it in its settings."""
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_dbus_backend(backend: object) -> bool:
    module = type(backend).__module__
    return module.startswith(("keyring.backends.SecretService", "keyring.backends.kwallet"))


def _secret_service_locked(backend: Any) -> bool:
    """Ask the Secret Service whether the collection keyring would use is locked; never unlock."""
    import secretstorage  # a dependency of keyring's SecretService backend on Linux

    connection = secretstorage.dbus_init()
    try:
        path = getattr(backend, "preferred_collection", None)
        if path:
            collection = secretstorage.Collection(connection, path)
        else:
            collection = secretstorage.get_default_collection(connection)
        return bool(collection.is_locked())
    finally:
        close = getattr(connection, "close", None)
        if close is not None:
            close()


def _kwallet_closed(backend: Any) -> bool:
    """A closed wallet would be opened with a password dialog: treat it as unusable."""
    # KWallet's backend is only viable when dbus-python is installed (no stubs for it).
    dbus: Any = importlib.import_module("dbus")
    bus = dbus.SessionBus()
    iface = dbus.Interface(bus.get_object(backend.bus_name, backend.object_path), "org.kde.KWallet")
    return not bool(iface.isOpen(iface.networkWallet()))


def refusal(backend: Any) -> str | None:
    """Why this backend cannot be used without a prompt, or None if it can be tried."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring):
        return "no keyring backend is available"
    if isinstance(backend, null.Keyring):
        return "the keyring is disabled (null backend)"
    if isinstance(backend, chainer.ChainerBackend):
        return None if backend.backends else "the keyring chainer has no backends"
    if _is_dbus_backend(backend):
        if sys.platform.startswith("linux") and not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            return (
                f"{backend_name(backend)} needs a desktop session (DBUS_SESSION_BUS_ADDRESS unset)"
            )
        module = type(backend).__module__
        locked = (
            _secret_service_locked(backend)
            if module.startswith("keyring.backends.SecretService")
            else _kwallet_closed(backend)
        )
        if locked:
            return f"{backend_name(backend)} is locked (unlocking it would prompt)"
    return None


def choose_backend(backend: Any) -> tuple[Any, str | None]:
    """The backend to use out of ``backend`` (keyring's own choice): itself, or for a chainer
    its best promptless member; with the reason when there is none."""
    from keyring.backends import chainer

    reason = refusal(backend)
    if reason is not None or not isinstance(backend, chainer.ChainerBackend):
        return backend, reason
    # The chainer would ask every member in turn, a locked one included: pick one ourselves.
    reasons = []
    for member in backend.backends:
        why = refusal(member)
        if why is None:
            return member, None
        reasons.append(why)
    return backend, "; ".join(reasons) or "no keyring backend is available"
