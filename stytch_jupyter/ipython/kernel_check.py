"""The one known bad kernel: ipykernel 7.0.x, named at ``%load_ext`` rather than pinned away.

A pin (``ipykernel!=7.0.*``) would make pip replace a hosted notebook's own kernel, which can
break that runtime; a clear line lets the user decide.
"""

from __future__ import annotations

import sys

# ipykernel 7.0.x loses ContextVars in threads other than the main one, so what the session
# thread sends (widget updates, observers' output) can fail or go nowhere. 7.1 fixed it.
BAD_PREFIX = "7.0."
TESTED = "ipykernel 7.4"


def ipykernel_version() -> str | None:
    """The running ipykernel's version, or None outside one (a plain IPython, a script)."""
    module = sys.modules.get("ipykernel")
    version = getattr(module, "__version__", None)
    return version if isinstance(version, str) else None


def kernel_warning(version: str | None) -> str | None:
    if version is None or not version.startswith(BAD_PREFIX):
        return None
    return (
        f"stytch_jupyter: ipykernel {version} loses background threads' context (fixed in 7.1), "
        "so the widget and heartbeat may not update; upgrade with "
        f"pip install 'ipykernel>=7.1' and restart the kernel (tested: {TESTED})"
    )


def warn_if_bad_kernel() -> None:
    message = kernel_warning(ipykernel_version())
    if message is not None:
        print(message, file=sys.stderr)
