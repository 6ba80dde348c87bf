"""The ``stytch`` object a notebook holds: the session manager plus its notebook faces."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..session.manager import SessionManager

if TYPE_CHECKING:
    from .widget import SessionWidget


class NotebookStytch(SessionManager):
    """``stytch`` in a notebook: ``stytch.session``, ``stytch.user``, ``stytch.widget()``, …"""

    def widget(self) -> SessionWidget:
        """A live view of this session (ipywidgets), with sign-in and sign-out."""
        from .widget import SessionWidget

        return SessionWidget(self)

    def _repr_html_(self) -> str:
        from .reprs import manager_html

        return manager_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        from .reprs import manager_text

        printer.text(manager_text(self))
