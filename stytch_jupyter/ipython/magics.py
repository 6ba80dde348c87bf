"""``%stytch``: sign in, check, extend and revoke the kernel's Stytch session from a cell.

Secrets (codes, passwords, tokens, links) are only ever read with ``getpass.getpass`` (which
ipykernel turns into a hidden input box), so they never land in the cell, its history or its
output; the command line rejects any option it does not know rather than echo it back.
"""

from __future__ import annotations

import functools
import getpass
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from IPython.core.completer import CompletionContext, SimpleCompletion, context_matcher
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from ..api.errors import StytchAPIError, StytchError, StytchNetworkError
from ..api.models import AuthenticateResponse, SessionTokens
from ..api.secret import Secret
from ..errors import StytchCommandError
from ..session.errors import NotSignedInError
from . import reprs
from .arguments import HelpShown, MagicArgumentParser, build_parser, complete
from .reprs import expiry, status_text

if TYPE_CHECKING:
    import argparse

    from .magic_link_listener import MagicLinkListener
    from .stytch_object import NotebookStytch

REMOTE_ENV = "STYTCH_JUPYTER_REMOTE"
# Set where a browser on the user's machine cannot reach this kernel's 127.0.0.1.
REMOTE_HINT_ENVS = ("JUPYTERHUB_API_TOKEN", "SSH_CONNECTION", "COLAB_RELEASE_TAG")
LISTENER_TIMEOUT_SECONDS = 300.0
LISTENER_HOST = "127.0.0.1"


@functools.cache
def parser() -> MagicArgumentParser:
    # Built on first use, not at import: %load_ext should cost the kernel as little as it can.
    return build_parser()


def remote_kernel() -> bool:
    """Whether a browser on the user's machine likely cannot reach this kernel's loopback."""
    explicit = os.environ.get(REMOTE_ENV, "").strip().lower()
    if explicit:
        return explicit not in ("0", "false", "no")
    return any(os.environ.get(name) for name in REMOTE_HINT_ENVS)


# ---- the magic --------------------------------------------------------------------------------


@magics_class
class StytchMagics(Magics):
    def __init__(self, shell: Any, manager: NotebookStytch) -> None:
        super().__init__(shell)
        self.manager = manager

    @line_magic
    def stytch(self, line: str = "") -> Any:
        """Sign in to Stytch and manage the session kept in this kernel.

        Usage: %stytch SUBCOMMAND [options]   (%stytch SUBCOMMAND --help for details)

          status                              the session as it is now (no request)
          authenticate [--duration D]         check the session with Stytch; with a
                                              duration, also extend it to now + D
          revoke [--force]                    sign out at Stytch and here
          update                              adopt a session token and JWT from elsewhere
          login otp --email E [--duration D]  email a one-time code, then ask for it
          login magic-link --email E [--paste] [--duration D]
                                              email a sign-in link; opening it signs in here
          login password --email E [--duration D]
          widget                              a live view of the session
          heartbeat [status|start|stop|now]   the background session check

        D, a duration: 30 (minutes), 30m, 2h, 7d, from 5 minutes to 366 days.
        Codes, passwords and links are asked for with a hidden prompt, never taken from the
        command line. Plain %stytch is %stytch status.
        The same session is the stytch object: stytch.session, stytch.user, ...
        """
        try:
            args = parser().parse_line(line if line.strip() else "status")
        except HelpShown:
            return None
        handler = self._commands()[args.command]
        try:
            return handler(args)
        except StytchCommandError:
            raise
        except StytchError as exc:
            message = reprs.one_line(exc)
            if isinstance(exc, StytchAPIError) and exc.error_type == "invalid_session_duration":
                minutes = (
                    getattr(args, "duration", None) or self.manager.config.session_duration_minutes
                )
                message += f". {reprs.duration_hint(minutes)}"
            raise StytchCommandError(message, type(exc).__name__) from exc
        except ValueError as exc:  # bad input caught by the session layer
            raise UsageError(f"%stytch {args.command}: {reprs.one_line(exc)}") from None

    # ---- subcommands -------------------------------------------------------------------------

    def _commands(self) -> dict[str, Callable[[argparse.Namespace], Any]]:
        """Each subcommand of ``build_parser()`` and the method that runs it."""
        return {
            "status": self._status,
            "authenticate": self._authenticate,
            "revoke": self._revoke,
            "update": self._update,
            "login": self._login,
            "widget": self._widget,
            "heartbeat": self._heartbeat,
        }

    def _status(self, args: argparse.Namespace) -> None:
        print(status_text(self.manager))

    def _authenticate(self, args: argparse.Namespace) -> None:
        response = self.manager.sessions.authenticate(args.duration)
        verb = "extended" if args.duration else "valid"
        print(f"Session {verb} for {_who(response)}, {self._expiry(response)}.")

    def _revoke(self, args: argparse.Namespace) -> None:
        manager = self.manager
        had_session = manager.session_token is not None
        try:
            manager.sessions.revoke(force_clear=args.force)
        except StytchError as exc:
            if not had_session:
                raise  # nothing to revoke: the error says why
            if manager.session_token is not None:
                # Not revoked (offline, 5xx, ...): say that nothing was lost, and the way out.
                raise StytchCommandError(
                    f"{reprs.one_line(exc)}; the session was not revoked and is kept here "
                    "(`%stytch revoke --force` forgets it here anyway)",
                    type(exc).__name__,
                ) from None
            if isinstance(exc, StytchAPIError) and exc.unrecoverable:
                print(f"Signed out (Stytch no longer knew this session: {exc.error_type}).")
                return
            print(
                f"Warning: Stytch could not revoke the session ({reprs.one_line(exc)}); it may "
                "stay valid there until it expires. It was forgotten here (--force).",
                file=sys.stderr,
            )
            return
        print("Signed out: the session was revoked at Stytch and forgotten here.")

    def _update(self, args: argparse.Namespace) -> None:
        opaque = _secret("Session token (opaque): ")
        jwt = _secret("Session JWT: ")
        tokens = SessionTokens(opaque=opaque.reveal(), jwt=jwt.reveal())  # ValueError: usage
        manager = self.manager
        manager.sessions.update(tokens)
        try:
            response = manager.sessions.authenticate()
        except NotSignedInError:
            # The background check answered first, and Stytch refused the tokens.
            raise StytchCommandError(
                "Stytch did not accept these tokens: not signed in", "StytchAPIError"
            ) from None
        except StytchNetworkError as exc:
            raise StytchCommandError(
                f"{reprs.one_line(exc)}; the tokens are kept and will be checked in the background",
                type(exc).__name__,
            ) from exc
        print(f"Tokens adopted: signed in as {_who(response)}, {self._expiry(response)}.")

    def _login(self, args: argparse.Namespace) -> None:
        email = args.email.strip()
        if "@" not in email or any(ch.isspace() for ch in email):
            # Not repeated: a code typed after --email would otherwise be printed back.
            raise UsageError(f"%stytch login {args.method}: --email: not an email address")
        login = {
            "otp": self._login_otp,
            "password": self._login_password,
            "magic-link": self._login_magic_link,
        }[args.method]
        response = login(email, args.duration, args)
        print(f"Signed in as {_who(response)}, {self._expiry(response)}.")

    def _login_otp(
        self, email: str, duration: int | None, args: argparse.Namespace
    ) -> AuthenticateResponse:
        manager = self.manager
        method_id = manager.otps.email.login_or_create(email)
        _say(f"Sent a one-time code to {email}.")
        code = _secret("Code from the email: ")
        return manager.otps.authenticate(code, method_id, session_duration_minutes=duration)

    def _login_password(
        self, email: str, duration: int | None, args: argparse.Namespace
    ) -> AuthenticateResponse:
        password = _secret(f"Password for {email}: ", strip=False)
        return self.manager.passwords.authenticate(
            email, password, session_duration_minutes=duration
        )

    def _login_magic_link(
        self, email: str, duration: int | None, args: argparse.Namespace
    ) -> AuthenticateResponse:
        listener = None if args.paste or remote_kernel() else _start_listener()
        if listener is None:
            return self._magic_link_by_paste(email, duration)
        # Wait in the cell rather than sign in in the background: the next cell (or "Run
        # All") expects to be signed in, the outcome is printed under the command that asked
        # for it, and the port is open only while the cell visibly runs (Ctrl-C / interrupt
        # closes it).
        with listener:
            url = listener.url
            self.manager.magic_links.email.login_or_create(
                email, login_magic_link_url=url, signup_magic_link_url=url
            )
            minutes = round(listener.timeout / 60)
            _say(
                f"Sent a sign-in link to {email}. Open it in a browser on this machine: this "
                f"cell waits up to {minutes} min for it (interrupt the kernel to cancel)."
            )
            try:
                token = Secret(listener.wait())
            except TimeoutError:
                raise StytchCommandError(
                    f"nobody opened the sign-in link within {minutes} min: not signed in",
                    "TimeoutError",
                ) from None
            try:
                response = self.manager.magic_links.authenticate(
                    token, session_duration_minutes=duration
                )
            except StytchError as exc:
                listener.respond(False, f"Stytch did not accept the link: {reprs.one_line(exc)}")
                raise
            listener.respond(True, f"Signed in as {_who(response)}. Return to your notebook.")
        return response

    def _magic_link_by_paste(self, email: str, duration: int | None) -> AuthenticateResponse:
        from .magic_link_listener import MagicLinkError, token_from_link

        self.manager.magic_links.email.login_or_create(email)
        _say(
            f"Sent a sign-in link to {email}. Copy the link from the email (or the address it "
            "opens) and paste it here."
        )
        try:
            token = Secret(token_from_link(_secret("Sign-in link: ").reveal()))
        except MagicLinkError as exc:
            raise UsageError(f"%stytch login magic-link: {exc}; not signed in") from None
        return self.manager.magic_links.authenticate(token, session_duration_minutes=duration)

    def _widget(self, args: argparse.Namespace) -> Any:
        return self.manager.widget()

    def _heartbeat(self, args: argparse.Namespace) -> None:
        manager, action = self.manager, args.action
        control = manager.heartbeat
        if action == "start":
            control.start()  # returns with the schedule published
        elif action == "stop":
            control.stop()
        elif action == "now":
            if manager.signed_out:
                print("Not signed in: nothing to check.")
                return
            control.now()
            if manager.signed_out:
                print("Checked: Stytch ended the session; signed out.")
                return
            if manager.last_error:
                print(f"Checked: {manager.last_error} (the session is kept; retrying)")
            else:
                print(f"Checked: session valid, {expiry(manager, _expires_at(manager))}.")
        print(f"Heartbeat: {reprs.heartbeat_text(manager, settings=True)}")

    def _expiry(self, response: AuthenticateResponse) -> str:
        return expiry(self.manager, response.session.expires_at)


def _who(response: AuthenticateResponse) -> str:
    return response.user.email or response.user.user_id


def _expires_at(manager: NotebookStytch) -> datetime | None:
    return manager.session.expires_at if manager.session is not None else None


def _say(message: str) -> None:
    # Printed before a prompt: flush so it shows above the input box, not after it.
    print(message, flush=True)


def _secret(prompt: str, strip: bool = True) -> Secret:
    """Ask with a hidden prompt; the answer is a ``Secret`` from the first moment it exists."""
    try:
        value = Secret(getpass.getpass(prompt))
    except (KeyboardInterrupt, EOFError):
        # An interrupted prompt is the user saying no: one line, not a traceback.
        raise StytchCommandError("cancelled: nothing changed", "Cancelled") from None
    if not value.strip():
        raise UsageError("nothing was entered: nothing changed")
    return value.strip() if strip else value


def _start_listener() -> MagicLinkListener | None:
    from .magic_link_listener import MagicLinkListener

    listener = MagicLinkListener(timeout=LISTENER_TIMEOUT_SECONDS, host=LISTENER_HOST)
    try:
        listener.start()
    except OSError as exc:
        print(
            f"Cannot listen on {LISTENER_HOST} ({exc.strerror or exc}): paste the link instead.",
            file=sys.stderr,
        )
        return None
    return listener


@context_matcher(identifier="stytch_jupyter.magic")
def complete_stytch(context: CompletionContext) -> dict[str, Any]:
    """IPython completer for ``%stytch``: subcommands, then their options.

    It claims the line (``suppress``): Jedi would otherwise offer Python builtins after ``--``.
    """
    text = context.text_until_cursor
    words = text.split()
    if not words or words[0] != "%stytch" or (len(words) == 1 and not text[-1:].isspace()):
        return {"completions": []}
    words = words[1:]
    current = "" if text[-1:].isspace() else words.pop()
    found = [word for word in complete(parser(), words, current) if word.startswith(current)]
    return {
        "completions": [SimpleCompletion(text=word, type="magic") for word in found],
        "matched_fragment": current,
        "suppress": True,
    }
