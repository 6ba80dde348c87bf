"""Opening a sign-in's start address in the user's browser, when that browser is on this machine.

Only for a kernel that ``locality`` calls local: elsewhere a browser started by the kernel would
open on the wrong machine (or, with a console browser, inside the kernel). The address is
printed as well, so nothing depends on this: it only saves a click.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from ..locality import detect

logger = logging.getLogger("stytch_jupyter")

# Where no graphical session is announced, webbrowser would fall back to a console browser
# (lynx, w3m) that takes over the terminal the kernel may not even have.
_GRAPHICAL_ENVS = ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY")


@dataclass(frozen=True)
class BrowserOpening:
    opened: bool
    reason: str  # why it was, or was not, opened: one line

    def __bool__(self) -> bool:
        return self.opened


def may_open(environ: Mapping[str, str] | None = None, platform: str = sys.platform) -> str | None:
    """Why a browser should not be opened from this process, or None when it may."""
    env = os.environ if environ is None else environ
    where = detect(env)
    if where.kind != "local":
        return f"the kernel is {where}: open the address in your own browser"
    if platform not in ("darwin", "win32") and not any(env.get(n) for n in _GRAPHICAL_ENVS):
        return "no graphical browser here ($DISPLAY, $WAYLAND_DISPLAY and $BROWSER are unset)"
    return None


def open_in_browser(
    url: str, environ: Mapping[str, str] | None = None, *, asked: bool = False
) -> BrowserOpening:
    """Hand ``url`` to the default browser, if one may (``asked``: the caller says so, whatever
    ``may_open`` thinks) and can be opened here.

    The browser is started on a thread of its own: ``webbrowser`` waits for commands such as
    ``$BROWSER`` to exit, and a cell must not wait for a browser."""
    import webbrowser

    refused = None if asked else may_open(environ)
    if refused is not None:
        return BrowserOpening(False, refused)
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return BrowserOpening(False, "no browser found here")

    def run() -> None:
        try:
            browser.open(url, new=2)
        except Exception as exc:  # a broken $BROWSER: the printed address still works
            logger.warning("stytch: could not open the browser (%s)", type(exc).__name__)

    threading.Thread(target=run, name="stytch-open-browser", daemon=True).start()
    return BrowserOpening(True, "opened in your browser")
