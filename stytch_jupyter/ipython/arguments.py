"""The ``%stytch`` command line: argparse that speaks IPython (one-line ``UsageError``s), and
session durations (``30``, ``30m``, ``2h``, ``7d``).
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any, NoReturn

from IPython.core.error import UsageError

from ..api.limits import MAX_SESSION_MINUTES, MIN_SESSION_MINUTES
from ..session.oauth import PROVIDERS
from .b2b_magics import add_b2b_arguments

PROG = "%stytch"

_DURATION = re.compile(r"(\d+)\s*([mhd]?)", re.IGNORECASE)
_UNIT_MINUTES = {"": 1, "m": 1, "h": 60, "d": 24 * 60}


def parse_duration(text: str) -> int:
    """Minutes from ``30`` (bare numbers are minutes), ``30m``, ``2h`` or ``7d``.

    Errors do not repeat ``text``: a code or token typed after ``--duration`` stays unshown.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            "that is not a duration: use e.g. 30 (minutes), 30m, 2h or 7d"
        )
    minutes = int(match[1]) * _UNIT_MINUTES[match[2].lower()]
    if not MIN_SESSION_MINUTES <= minutes <= MAX_SESSION_MINUTES:
        raise argparse.ArgumentTypeError("out of range: a session lasts 5 minutes to 366 days")
    return minutes


# ``%stytch status --wait``: how long it waits by default, and at most. A keyring call (10 s)
# and a session check (Stytch.timeout) fit in the default.
STATUS_WAIT_SECONDS = 30.0
MAX_STATUS_WAIT_SECONDS = 3600.0


def parse_wait(text: str) -> float:
    """Seconds for ``--wait``: a number above 0, at most an hour."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("that is not a number of seconds") from None
    if not 0 < seconds <= MAX_STATUS_WAIT_SECONDS:  # NaN fails this too
        raise argparse.ArgumentTypeError(
            f"out of range: more than 0 and at most {MAX_STATUS_WAIT_SECONDS:g} seconds"
        )
    return seconds


# The words of the command line being parsed: what error messages must not repeat.
_typed: ContextVar[tuple[str, ...]] = ContextVar("stytch_typed_words", default=())


def _scrub(message: str, words: Sequence[str], vocabulary: set[str]) -> str:
    """``message`` without any word the user typed, except the parser's own words.

    argparse quotes what it repeats (``%r``): "invalid choice: 'eyJ…' (choose from …)",
    "invalid int value: '…'", "ignored explicit argument '…'". The quoted word goes; where
    it is named by a known phrase, the phrase reads on without it.
    """
    values = {part for word in words for part in (word, *word.split("=", 1)[1:])}
    for value in sorted(values - vocabulary, key=len, reverse=True):
        if not value:
            continue
        quoted = repr(value)
        for phrase in ("invalid choice: ", "value: ", "explicit argument "):
            message = message.replace(f"{phrase}{quoted}", phrase.rstrip(": "))
        message = message.replace(quoted, "'…'")
    return message


class HelpShown(Exception):
    """``--help`` was printed: the magic has nothing more to do (argparse would exit)."""


class MagicArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose mistakes are one-line ``UsageError``s and whose ``--help``
    never raises ``SystemExit`` into a notebook."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        message = _scrub(message, _typed.get(), _vocabulary(self))
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if _typed.get() or args is None:  # a subcommand's parser, inside the outer call
            return super().parse_known_args(args, namespace)
        token = _typed.set(tuple(args))
        try:
            return super().parse_known_args(args, namespace)
        finally:
            _typed.reset(token)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status:
            raise UsageError(f"{self.prog}: {(message or 'invalid arguments').strip()}")
        raise HelpShown

    def parse_line(self, line: str) -> argparse.Namespace:
        """Parse a magic's line; unknown words are rejected without being echoed back,
        since they may be a secret typed where it does not belong."""
        try:
            words = shlex.split(line)
        except ValueError as exc:  # an unbalanced quote
            raise UsageError(f"{self.prog}: {exc}") from None
        namespace, extra = self.parse_known_args(words)
        if extra:
            options = sorted({word.split("=", 1)[0] for word in extra if word.startswith("-")})
            what = (
                f"unrecognized option {', '.join(options)}"
                if options
                else f"unexpected argument{'s' if len(extra) > 1 else ''}"
            )
            raise UsageError(
                f"{self.prog}: {what}. Codes, passwords and links are asked for with a hidden "
                f"prompt, never typed on the command line (see {self.prog} --help)"
            )
        return namespace


def _vocabulary(parser: argparse.ArgumentParser) -> set[str]:
    """Every word a parser (and its subcommands) knows: safe to repeat in a message."""
    words: set[str] = set()
    for action in parser._actions:
        words.update(action.option_strings)
        if action.choices is not None:
            words.update(str(choice) for choice in action.choices)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                words |= _vocabulary(child)
    return words


def _add_duration(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--duration",
        type=parse_duration,
        metavar="D",
        help=f"{help}: 30 (minutes), 30m, 2h, 7d; 5 minutes to 366 days",
    )


def build_parser() -> MagicArgumentParser:
    parser = MagicArgumentParser(
        prog=PROG,
        description="Sign in to Stytch and manage the session kept in this kernel.",
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)

    status = sub.add_parser("status", help="show the session (no request)")
    status.add_argument(
        "--wait",
        nargs="?",
        const=STATUS_WAIT_SECONDS,
        type=parse_wait,
        metavar="SECONDS",
        help="first wait until the stored session has been checked "
        f"(at most SECONDS, default {STATUS_WAIT_SECONDS:g})",
    )

    authenticate = sub.add_parser(
        "authenticate", help="check the session with Stytch; with --duration, extend it"
    )
    _add_duration(authenticate, "extend the session to now + D")

    revoke = sub.add_parser("revoke", help="sign out at Stytch and here")
    revoke.add_argument(
        "--force", action="store_true", help="forget the session here even if Stytch fails"
    )

    sub.add_parser("update", help="adopt a session token and JWT (asked for, hidden)")

    login = sub.add_parser(
        "login", help="sign in: otp, sms, magic-link, password, oauth, totp; resume"
    )
    methods = login.add_subparsers(dest="method", metavar="METHOD", required=True)
    otp = methods.add_parser("otp", help="email a one-time code, then ask for it")
    magic_link = methods.add_parser("magic-link", help="email a sign-in link")
    password = methods.add_parser("password", help="ask for the password (hidden)")
    for method in (otp, magic_link, password):
        method.add_argument("--email", required=True, metavar="E", help="the user's email")
        _add_duration(method, "session length")
    oauth = methods.add_parser("oauth", help="sign in with an OAuth provider (a redirect)")
    oauth.add_argument("provider", choices=PROVIDERS, metavar="PROVIDER", help="e.g. google")
    oauth.add_argument(
        "--scope", action="append", metavar="S", help="an extra OAuth scope (repeatable)"
    )
    oauth.add_argument(
        "--provider-param",
        action="append",
        metavar="K=V",
        help="a parameter for the provider, e.g. prompt=select_account (repeatable)",
    )
    oauth.add_argument(
        "--no-browser",
        action="store_true",
        help="print the address only; do not open it in this machine's browser "
        "(Stytch.open_browser = False always does so)",
    )
    _add_duration(oauth, "session length")
    for method in (magic_link, oauth):
        method.add_argument(
            "--paste",
            action="store_true",
            help="paste the address the redirect opens (for a kernel on another machine)",
        )
    methods.add_parser("resume", help="paste the address a sign-in redirect opened")
    sms = methods.add_parser("sms", help="text a one-time code, then ask for it")
    sms.add_argument(
        "--phone", required=True, metavar="P", help="the phone number, E.164: +15551234567"
    )
    _add_duration(sms, "session length")
    totp = methods.add_parser(
        "totp", help="add an authenticator app's code to the session (asked for, hidden)"
    )
    totp.add_argument(
        "--recovery", action="store_true", help="use a recovery code instead of the app's code"
    )
    _add_duration(totp, "session length")

    password_command = sub.add_parser("password", help="reset a password; check one's strength")
    actions = password_command.add_subparsers(dest="action", metavar="ACTION", required=True)
    reset = actions.add_parser(
        "reset", help="email a reset link, then ask for it and the new password (hidden)"
    )
    reset.add_argument("--email", required=True, metavar="E", help="the user's email")
    _add_duration(reset, "session length")
    strength = actions.add_parser(
        "strength", help="ask for a password (hidden) and show what Stytch thinks of it"
    )
    strength.add_argument("--email", metavar="E", help="the user it is for (optional)")
    add_b2b_arguments(sub, methods, (otp, magic_link, password))

    sub.add_parser("widget", help="a live view of the session, with sign-in and sign-out")

    heartbeat = sub.add_parser("heartbeat", help="the background session check")
    heartbeat.add_argument(
        "action",
        nargs="?",
        default="status",
        choices=["status", "start", "stop", "now"],
        help="status (default), start, stop, or check now",
    )
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def complete(parser: argparse.ArgumentParser, words: Sequence[str], current: str) -> list[str]:
    """What may follow ``words`` (the arguments before the cursor) when ``current`` is being
    typed: read off the parser itself, so completion never drifts from what is accepted."""
    for index, word in enumerate(words):
        children = _subparsers(parser)
        if word in children:
            return complete(children[word], words[index + 1 :], current)
    children = _subparsers(parser)
    if children:
        return sorted(children) if not current.startswith("-") else ["--help"]
    if words and words[-1] == "--duration":
        return ["30m", "2h", "1d", "7d"]
    used = set(words)
    options: list[str] = []
    positionals: list[str] = []
    for action in parser._actions:
        if action.option_strings:
            options += [o for o in action.option_strings if o not in used and o.startswith("--")]
        elif action.choices and not used & set(action.choices):
            positionals += list(action.choices)
    return positionals + options if not current.startswith("-") else options
