"""``%stytch``: sign in, check, extend and revoke the kernel's Stytch session from a cell.

Secrets (codes, passwords, tokens, links) are only ever read with ``getpass.getpass`` (which
ipykernel turns into a hidden input box), so they never land in the cell, its history or its
output; the command line rejects any option it does not know rather than echo it back.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from IPython.core.completer import CompletionContext, SimpleCompletion, context_matcher
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from ..api.errors import StytchAPIError, StytchError
from ..api.secret import Secret
from ..errors import StytchCommandError
from . import reprs
from .arguments import HelpShown, MagicArgumentParser, build_parser, complete
from .b2b_magics import IST_GONE, IST_GONE_MESSAGE, B2BCommands, complete_slugs
from .b2b_magics import who as b2b_who
from .reprs import expiry, status_text

if TYPE_CHECKING:
    import argparse

    from ..api.b2b_models import B2BAuthenticateResponse
    from ..api.models import AuthenticateResponse
    from ..session.redirect import RedirectFlow
    from .stytch_object import NotebookStytch


R = TypeVar("R")
_LOGIN_WORDS = {
    "magic_links": "magic-link",
    "multi_tenant_magic_links": "magic-link",
    "discovery_oauth": "oauth",
}
# E.164: a plus, then up to 15 digits (the first not 0). Checked here so a mistyped number is
# one line that does not repeat it.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# Weak new passwords asked for again within one %stytch password reset, before it gives up.
RESET_ATTEMPTS = 3


@functools.cache
def parser() -> MagicArgumentParser:
    # Built on first use, not at import: %load_ext should cost the kernel as little as it can.
    return build_parser()


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

          status [--wait [SECONDS]]           the session as it is now (no request); with
                                              --wait, once the stored session is checked
          authenticate [--duration D]         check the session with Stytch; with a
                                              duration, also extend it to now + D
          revoke [--force]                    sign out at Stytch and here
          update                              adopt a session token and JWT from elsewhere
          login otp --email E [--duration D]  email a one-time code, then ask for it
          login magic-link --email E [--paste] [--duration D]
                                              email a sign-in link; opening it signs in here
          login oauth PROVIDER [--scope S]... [--provider-param K=V]... [--paste]
                [--no-browser]                sign in with Google, GitHub, … (a redirect;
                                              a local kernel opens it in your browser)
          login resume                        paste the address a sign-in redirect opened
          login password --email E [--duration D]
          login sms --phone +15551234567 [--duration D]
                                              text a one-time code, then ask for it
          login totp [--recovery] [--duration D]
                                              add an authenticator app's code (or a
                                              recovery code) to the session
          password reset --email E [--duration D]
                                              email a reset link; paste it, then the new
                                              password is asked for
          password strength [--email E]       what Stytch thinks of a password (asked)
          login discovery --email E [--code] [--paste]
                                              B2B: find your organizations, pick one
          login otp|magic-link|password --email E --org ORG
                                              B2B: sign in to one organization
          login sso --org SLUG|--connection ID
                                              B2B: single sign-on (open; it comes back)
          orgs | switch ORG | mfa totp|sms    B2B: organizations, switching, MFA
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
            elif isinstance(exc, StytchAPIError) and exc.error_type == IST_GONE:
                message = IST_GONE_MESSAGE  # B2B: the discovery (or MFA step) is over
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
            "password": self._password,
            "widget": self._widget,
            "heartbeat": self._heartbeat,
            # B2B projects (b2b_magics.py):
            "orgs": lambda args: self._b2b().orgs(args),
            "switch": lambda args: self._b2b_signed_in(self._b2b().switch(args)),
            "mfa": lambda args: self._b2b_signed_in(self._b2b().mfa(args)),
        }

    def _b2b(self) -> B2BCommands:
        self.manager.wait_for_vertical(self.manager.config.timeout)  # "auto": asked at load
        return B2BCommands(
            self.manager,
            _secret,
            finish_redirect=self._finish_redirect,
            paste_redirect=self._paste_redirect,
        )

    def _b2b_signed_in(self, response: B2BAuthenticateResponse) -> None:
        session = response.member_session
        expires = expiry(self.manager, session.expires_at if session else None)
        print(f"Signed in as {b2b_who(response)}, {expires}.")

    def _status(self, args: argparse.Namespace) -> None:
        manager = self.manager
        if args.wait is not None:
            try:
                checked = manager.wait_until_checked(args.wait)
            except KeyboardInterrupt:
                raise StytchCommandError("cancelled: stopped waiting", "Cancelled") from None
            if not checked:
                print(f"Still checking the stored session after {args.wait:g} s.", file=sys.stderr)
        print(status_text(manager))

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
        from ..api.models import SessionTokens

        tokens = SessionTokens(opaque=opaque.reveal(), jwt=jwt.reveal())  # ValueError: usage
        manager = self.manager
        kept = "the session you had is kept" if manager.session_token else "nothing changed"
        try:
            response = manager.sessions.update(tokens)  # checked with Stytch before it is kept
        except StytchError as exc:
            raise StytchCommandError(
                f"{reprs.one_line(exc)}; these tokens were not adopted and {kept}",
                type(exc).__name__,
            ) from None
        print(f"Tokens adopted: signed in as {_who(response)}, {self._expiry(response)}.")

    def _login(self, args: argparse.Namespace) -> None:
        b2b = args.method in ("discovery", "sso") or getattr(args, "org", None) is not None
        self.manager.wait_for_vertical(self.manager.config.timeout)  # "auto": asked at load
        if b2b or self.manager.vertical.name == "b2b":
            if args.method in ("oauth", "sms", "totp"):
                instead = "sso or otp" if args.method == "oauth" else f"%stytch mfa {args.method}"
                raise UsageError(f"%stytch login {args.method}: in a B2B project, use {instead}")
            email = getattr(args, "email", "").strip()
            without = ("sso", "resume")
            if args.method not in without and ("@" not in email or any(c.isspace() for c in email)):
                raise UsageError(f"%stytch login {args.method}: --email: not an email address")
            self._b2b_signed_in(self._b2b().login(args, email))
            return
        without_email = {
            "oauth": self._login_oauth,
            "resume": self._login_resume,
            "sms": self._login_sms,
            "totp": self._login_totp,
        }
        if args.method in without_email:
            response = without_email[args.method](args)
            print(f"Signed in as {_who(response)}, {self._expiry(response)}.")
            return
        email = _email(args, f"login {args.method}")
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
        _say(f"Sent a one-time code to {email}{reprs.mailbox_hint(manager.mailbox_url)}.")
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
        flow = self.manager.redirect.start_magic_link(
            email, route="paste" if args.paste else None, session_duration_minutes=duration
        )
        _say(f"Sent a sign-in link to {email}{reprs.mailbox_hint(self.manager.mailbox_url)}.")
        return self._finish_redirect(flow, "it")

    def _login_sms(self, args: argparse.Namespace) -> AuthenticateResponse:
        phone = args.phone.strip()
        if not _E164.fullmatch(phone):
            # Not repeated, like --email: it may be a code typed in the wrong place.
            raise UsageError(
                "%stytch login sms: --phone: not a phone number in E.164 form (+15551234567)"
            )
        manager = self.manager
        method_id = manager.otps.sms.login_or_create(phone)
        _say(f"Texted a one-time code to {phone}{reprs.mailbox_hint(manager.mailbox_url)}.")
        code = _secret("Code from the text message: ")
        return manager.otps.authenticate(code, method_id, session_duration_minutes=args.duration)

    def _login_totp(self, args: argparse.Namespace) -> AuthenticateResponse:
        manager = self.manager
        if not manager.signed_in:
            raise UsageError(
                "%stytch login totp: not signed in: an authenticator code adds to a session, "
                "so sign in first (e.g. %stytch login otp --email …)"
            )
        if args.recovery:
            code = _secret("Recovery code: ")
            return manager.totps.recover(code, session_duration_minutes=args.duration)
        code = _secret("Code from your authenticator app: ")
        return manager.totps.authenticate(code, session_duration_minutes=args.duration)

    def _login_oauth(self, args: argparse.Namespace) -> AuthenticateResponse:
        params: dict[str, str] = {}
        for item in args.provider_param or ():
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise UsageError("%stytch login oauth: --provider-param takes KEY=VALUE")
            params[key.strip()] = value
        flow = self.manager.oauth.start(
            args.provider,
            scopes=args.scope or (),
            provider_params=params,
            route="paste" if args.paste else None,
            session_duration_minutes=args.duration,
            open_browser=False if args.no_browser else None,
        )
        assert flow.url is not None
        opened = flow.browser is not None and flow.browser.opened
        _say_link(
            f"Sign in with {args.provider.capitalize()}"
            + (" (opened in your browser; if it did not open, open this)" if opened else "")
            + ":",
            flow.url,
        )
        return self._finish_redirect(flow, "that address")

    def _login_resume(self, args: argparse.Namespace) -> AuthenticateResponse:
        response: AuthenticateResponse = self._paste_redirect("resume")
        return response

    def _finish_redirect(self, flow: RedirectFlow[R], what: str) -> R:
        """Wait for the redirect where it can only come out of band; else ask for a paste."""
        from ..session.redirect import RedirectRefusedError

        if flow.route.hint:
            print(flow.route.hint, file=sys.stderr)
        if flow.route.name not in ("loopback", "server"):
            if flow.route.reason.startswith("cannot listen"):
                print(f"{flow.route.reason.capitalize()}: paste the link instead.", file=sys.stderr)
            if flow.route.name == "relay":
                _say("The page it opens shows a code to copy.")
            return cast("R", self._paste_redirect(flow.token_type))
        # Wait in the cell rather than sign in in the background: the next cell (or "Run
        # All") expects to be signed in, and the outcome is printed under the command.
        where = (
            "in a browser on this machine"
            if flow.route.name == "loopback"
            else "in the browser where this notebook is open"
        )
        minutes = max(round(flow.expires_in / 60), 1)
        _say(
            f"Open {what} {where}: this cell waits up to {minutes} min (interrupt the kernel "
            "to stop; then %stytch login resume takes the address it opened)."
        )
        try:
            return flow.wait()
        except KeyboardInterrupt:
            flow.close_ways_back()  # nothing listens any more; a paste can still finish it
            raise
        except TimeoutError:
            flow.cancel()
            raise StytchCommandError(
                f"no redirect came back within {minutes} min: not signed in", "TimeoutError"
            ) from None
        except RedirectRefusedError as exc:
            raise StytchCommandError(str(exc), "RedirectRefusedError") from None

    def _paste_redirect(self, method: str) -> Any:
        """The response of the pending flow a pasted link finishes (its kind's: consumer or
        B2B)."""
        from ..session.redirect import RedirectError, RedirectRefusedError

        # The %stytch login word for a flow's token type (B2B's included).
        label = _LOGIN_WORDS.get(method, method.replace("_", "-"))
        text = _secret("Sign-in link: ")
        try:
            return self.manager.redirect.resume(text)
        except RedirectError as exc:
            raise UsageError(f"%stytch login {label}: {exc}; not signed in") from None
        except RedirectRefusedError as exc:
            raise UsageError(f"%stytch login {label}: {exc}") from None

    def _password(self, args: argparse.Namespace) -> None:
        if args.action == "strength":
            password = _secret("Password to check: ", strip=False)
            email = None if args.email is None else _email(args, "password strength")
            print(reprs.strength_text(self.manager.passwords.strength_check(password, email)))
            return
        self._password_reset(args)

    def _password_reset(self, args: argparse.Namespace) -> None:
        from ..session.redirect import RedirectError, parse_redirect

        email = _email(args, "password reset")
        manager = self.manager
        passwords = manager.passwords
        passwords.reset_by_email_start(email)
        _say(f"Sent a password reset link to {email}{reprs.mailbox_hint(manager.mailbox_url)}.")
        link = _secret("Reset link (or its token): ")
        try:
            redirect = parse_redirect(link.reveal())
        except RedirectError as exc:
            raise UsageError(f"%stytch password reset: {exc}; nothing changed") from None
        finally:
            del link  # a verbose traceback would show it: the link carries the token
        if redirect.token_type not in (None, "reset_password"):
            raise UsageError(
                "%stytch password reset: that is not a password reset link; nothing changed"
            )
        token = Secret(redirect.token)
        del redirect
        for attempt in range(1, RESET_ATTEMPTS + 1):
            password = _secret(f"New password for {email}: ", strip=False)
            try:
                response = passwords.reset_by_email(token, password, args.duration)
                break
            except StytchAPIError as exc:
                if exc.error_type != "weak_password" or attempt == RESET_ATTEMPTS:
                    raise
                # The link still works after a weak password: say why, and ask again.
                feedback = reprs.strength_text(passwords.strength_check(password, email))
                print(f"{feedback}\nTry another password.", file=sys.stderr, flush=True)
        print(f"Password changed: signed in as {_who(response)}, {self._expiry(response)}.")

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


def _email(args: argparse.Namespace, command: str) -> str:
    email = str(args.email).strip()
    if "@" not in email or any(ch.isspace() for ch in email):
        # Not repeated: a code typed after --email would otherwise be printed back.
        raise UsageError(f"%stytch {command}: --email: not an email address")
    return email


def _say(message: str) -> None:
    # Printed before a prompt: flush so it shows above the input box, not after it.
    print(message, flush=True)


def _say_link(text: str, url: str) -> None:
    """``text url``, with the address a link a notebook opens in a new tab (plain text in a
    terminal): the way to a sign-in wherever the kernel runs, browser opened or not."""
    import html

    from IPython.display import display

    anchor = (
        f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">'
        f"{html.escape(url)}</a>"
    )
    bundle = {"text/plain": f"{text} {url}", "text/html": f"{html.escape(text)} {anchor}"}
    display(bundle, raw=True)  # type: ignore[no-untyped-call]
    sys.stdout.flush()


def _secret(prompt: str, strip: bool = True) -> Secret:
    """Ask with a hidden prompt; the answer is a ``Secret`` from the first moment it exists."""
    try:
        import getpass  # at the first prompt: it pulls in termios

        value = Secret(getpass.getpass(prompt))
    except (KeyboardInterrupt, EOFError):
        # An interrupted prompt is the user saying no: one line, not a traceback.
        raise StytchCommandError("cancelled: nothing changed", "Cancelled") from None
    if not value.strip():
        raise UsageError("nothing was entered: nothing changed")
    return value.strip() if strip else value


@context_matcher(identifier="stytch_jupyter.magic")  # type: ignore[untyped-decorator]
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
    candidates = complete_slugs(words, current)  # organizations, from the last discovery
    if candidates is None:
        candidates = complete(parser(), words, current)
    found = [word for word in candidates if word.startswith(current)]
    return {
        "completions": [SimpleCompletion(text=word, type="magic") for word in found],
        "matched_fragment": current,
        "suppress": True,
    }
