"""The emulator's in-memory Stytch project: users, sessions, codes, links and the outbox.

Every read and write happens under one lock. Methods raise ``EmulatorError`` with the error
Stytch would answer; they never see HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from . import errors, totp
from .clock import Clock
from .clock import rfc3339 as _rfc3339
from .defaults import JWT_LIFETIME_SECONDS
from .errors import EmulatorError
from .keys import SigningKey
from .models import (
    Factor,
    MagicLink,
    Message,
    OAuthRegistration,
    OAuthStart,
    OAuthToken,
    Otp,
    PasswordHash,
    Phone,
    Session,
    Totp,
    User,
    same_secret,
)
from .passwords import strength as password_strength
from .session_book import SESSION_CLAIM, SessionBook, SessionLookups

# Stytch's consumer providers (browser and iOS lists), with the ``provider_type`` each reports.
# The capitalisation of provider_type is UNVERIFIED.
OAUTH_PROVIDERS = {
    "amazon": "Amazon",
    "apple": "Apple",
    "bitbucket": "Bitbucket",
    "coinbase": "Coinbase",
    "discord": "Discord",
    "facebook": "Facebook",
    "figma": "Figma",
    "github": "GitHub",
    "gitlab": "GitLab",
    "google": "Google",
    "linkedin": "LinkedIn",
    "microsoft": "Microsoft",
    "salesforce": "Salesforce",
    "slack": "Slack",
    "snapchat": "Snapchat",
    "spotify": "Spotify",
    "tiktok": "TikTok",
    "twitch": "Twitch",
    "twitter": "Twitter",
    "yahoo": "Yahoo",
}
# The session factor's detail key is ``{provider}_oauth_factor``, spelled as the spec does.
_FACTOR_PREFIXES = {"gitlab": "git_lab", "linkedin": "linked_in", "tiktok": "tik_tok"}
# Chosen here: how long a consent page waits, how long its token lasts, and the provider's
# access-token lifetime reported in provider_values.
OAUTH_START_MINUTES = 10
OAUTH_TOKEN_MINUTES = 10
OAUTH_ACCESS_TOKEN_SECONDS = 3600
_RESERVED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", SESSION_CLAIM})


@dataclass(frozen=True)
class Client:
    """Who is asking: recorded on the sessions they start."""

    ip_address: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class Authenticated:
    session: Session
    user: User
    session_jwt: str = ""


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k not in extra] + list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class State(SessionLookups[Session]):
    def __init__(
        self,
        project_id: str,
        key: SigningKey,
        clock: Clock,
        *,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.project_id = project_id
        self._announce = announce
        self.key = key
        self.clock = clock
        self._env = "live" if project_id.startswith("project-live-") else "test"
        self._lock = threading.RLock()
        self._reset_hooks: list[Callable[[], None]] = []
        self.reset()

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` on every reset (the B2B project keeps its own records)."""
        self._reset_hooks.append(hook)

    def reset(self) -> None:
        with self._lock:
            self._users: dict[str, User] = {}
            self._user_by_email: dict[str, str] = {}
            self._sessions: SessionBook[Session] = SessionBook(
                self.key, self.project_id, self.clock.now, reserved_claims=_RESERVED_CLAIMS
            )
            self._otps: list[Otp] = []
            self._magic_links: dict[str, MagicLink] = {}
            self._oauth_starts: dict[str, OAuthStart] = {}
            self._oauth_tokens: dict[str, OAuthToken] = {}
            self._outbox: list[Message] = []
            # Every secret minted or received, so tests can prove none of them leaks anywhere.
            self._issued: dict[str, list[str]] = {
                "session_tokens": [],
                "session_jwts": [],
                "otp_codes": [],
                "magic_link_tokens": [],
                "passwords": [],
                "oauth_tokens": [],
                "provider_tokens": [],
                "totp_secrets": [],
                "totp_recovery_codes": [],
            }
            self.clock.reset()
        # Outside the lock: the B2B project takes its own lock first, then this one.
        for hook in self._reset_hooks:
            hook()

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{self._env}-{uuid.uuid4()}"

    # -- users ---------------------------------------------------------------------------

    def _user_for_email(self, email: str, *, create: bool) -> tuple[User | None, bool]:
        user_id = self._user_by_email.get(email.lower())
        if user_id is not None:
            return self._users[user_id], False
        if not create:
            return None, False
        user = User(
            user_id=self._new_id("user"),
            email_id=self._new_id("email"),
            email=email.lower(),
            created_at=self.clock.now(),
        )
        self._users[user.user_id] = user
        self._user_by_email[user.email] = user.user_id
        return user, True

    def create_user(self, email: str, password: str | None, name: dict[str, str]) -> User:
        with self._lock:
            if email.lower() in self._user_by_email:
                raise EmulatorError(
                    400, errors.DUPLICATE_EMAIL, "A user with this email already exists."
                )
            user, _ = self._user_for_email(email, create=True)
            assert user is not None
            user.status = "active"
            user.name.update(name)
            if password is not None:
                user.password = PasswordHash.create(self._new_id("password"), password)
                self._issued["passwords"].append(password)
            return user

    def user(self, user_id: str) -> User:
        with self._lock:
            found = self._users.get(user_id)
            if found is None:
                raise EmulatorError(404, errors.USER_NOT_FOUND, "User could not be found.")
            return found

    # -- sessions ------------------------------------------------------------------------

    def _start_or_join_session(
        self, user: User, factor: Factor, minutes: int, current: Session | None, client: Client
    ) -> Authenticated:
        """Attach a freshly authenticated factor to the caller's session, or start one."""
        now = self.clock.now()
        user.status = "active"
        if current is not None and current.user_id == user.user_id and current.live_at(now):
            session = current
        else:
            session = Session(
                session_id=self._new_id("session"),
                user_id=user.user_id,
                token=secrets.token_urlsafe(33),
                started_at=now,
                last_accessed_at=now,
                expires_at=now,
                ip_address=client.ip_address,
                user_agent=client.user_agent,
            )
            self._sessions.add(session.session_id, session)
            self._issued["session_tokens"].append(session.token)
        session.add_factor(factor)
        session.last_accessed_at = now
        session.expires_at = now + timedelta(minutes=minutes)
        return Authenticated(session, user, self._mint_jwt(session, now))

    def _mint_jwt(self, session: Session, now: datetime) -> str:
        issued = int(now.timestamp())
        claims: dict[str, Any] = dict(session.custom_claims)
        claims.update(
            {
                "sub": session.user_id,
                "iss": f"stytch.com/{self.project_id}",
                "aud": [self.project_id],
                "iat": issued,
                "nbf": issued,
                "exp": issued + JWT_LIFETIME_SECONDS,
                SESSION_CLAIM: session.jwt_claim(),
            }
        )
        minted = self.key.mint(claims)
        self._issued["session_jwts"].append(minted)
        return minted

    def authenticate_session(
        self,
        session: Session,
        minutes: int | None,
        custom_claims: dict[str, Any] | None = None,
    ) -> Authenticated:
        """Check a session; with ``minutes``, set its expiry to now + minutes (not added)."""
        with self._lock:
            now = self._sessions.touch(session, minutes, custom_claims)
            user = self._users[session.user_id]
            return Authenticated(session, user, self._mint_jwt(session, now))

    def verify_live_jwt(self, token: str) -> Session:
        """What a backend does with a session JWT: signature, the JWT's own times, then the
        session behind it."""
        with self._lock:
            claims = self._sessions.jwt_claims(token)
            now = self.clock.now().timestamp()
            if not (claims["nbf"] <= now < claims["exp"]):
                raise EmulatorError(401, errors.UNAUTHORIZED_CREDENTIALS, "The JWT has expired.")
            return self.session_by_jwt(token)

    def sessions_for_user(self, user_id: str) -> list[Session]:
        with self._lock:
            self.user(user_id)
            now = self.clock.now()
            return [s for s in self._sessions if s.user_id == user_id and s.live_at(now)]

    # -- email OTPs ----------------------------------------------------------------------

    def send_otp(self, email: str, minutes: int) -> tuple[User, bool]:
        with self._lock:
            user, created = self._user_for_email(email, create=True)
            assert user is not None
            now = self.clock.now()
            code = f"{secrets.randbelow(10**6):06d}"
            self._otps.append(
                Otp(user.email_id, user.user_id, code, now + timedelta(minutes=minutes))
            )
            message_id = self._new_id("message")
            self._post(Message(message_id, user.email, "otp", user.email_id, now, code=code))
            return user, created

    def authenticate_otp(
        self, method_id: str, code: str, minutes: int, current: Session | None, client: Client
    ) -> Authenticated:
        with self._lock:
            candidates = [otp for otp in self._otps if otp.method_id == method_id]
            if not candidates:
                raise EmulatorError(
                    400, errors.INVALID_METHOD_ID, "The method_id is not a known email_id."
                )
            match = next((o for o in candidates if not o.used and same_secret(o.code, code)), None)
            if match is None:
                raise EmulatorError(
                    404, errors.OTP_CODE_NOT_FOUND, "The passcode is wrong or already used."
                )
            if self.clock.now() >= match.expires_at:
                raise EmulatorError(
                    401, errors.UNABLE_TO_AUTH_OTP_CODE, "The passcode has expired."
                )
            match.used = True
            user = self._users[match.user_id]
            now = self.clock.now()
            if match.channel == "sms":
                phone = next(p for p in user.phones if p.phone_id == match.method_id)
                phone.verified = True
                detail = {"phone_id": phone.phone_id, "phone_number": phone.phone_number}
                factor = Factor("otp", "sms", "", "", now, detail=("phone_number_factor", detail))
            else:
                user.email_verified = True
                factor = Factor("otp", "email", user.email_id, user.email, now)
            return self._start_or_join_session(user, factor, minutes, current, client)

    # -- SMS OTPs ------------------------------------------------------------------------

    def send_sms_otp(self, phone_number: str, minutes: int) -> tuple[User, Phone, bool]:
        """Text a code to ``phone_number``, creating a (pending) user for a new number:
        ``(user, phone, created)``."""
        with self._lock:
            found = next(
                (
                    (user, phone)
                    for user in self._users.values()
                    for phone in user.phones
                    if phone.phone_number == phone_number
                ),
                None,
            )
            if found is None:
                user = User(
                    user_id=self._new_id("user"), email_id="", email="", created_at=self.clock.now()
                )
                phone = Phone(self._new_id("phone-number"), phone_number)
                user.phones.append(phone)
                self._users[user.user_id] = user
            else:
                user, phone = found
            now = self.clock.now()
            code = f"{secrets.randbelow(10**6):06d}"
            self._otps.append(
                Otp(
                    phone.phone_id,
                    user.user_id,
                    code,
                    now + timedelta(minutes=minutes),
                    channel="sms",
                )
            )
            self._post(
                Message(
                    self._new_id("message"), phone_number, "sms_otp", phone.phone_id, now, code=code
                )
            )
            return user, phone, found is None

    # -- email magic links ---------------------------------------------------------------

    def send_magic_link(
        self,
        email: str,
        *,
        login_url: str,
        signup_url: str,
        login_minutes: int,
        signup_minutes: int,
        code_challenge: str | None,
    ) -> tuple[User, bool]:
        with self._lock:
            user, created = self._user_for_email(email, create=True)
            assert user is not None
            # A user who never finished signing up still gets the signup link, as on Stytch.
            signup = created or user.status == "pending"
            now = self.clock.now()
            token = secrets.token_urlsafe(33)
            minutes = signup_minutes if signup else login_minutes
            self._magic_links[token] = MagicLink(
                user.user_id, token, now + timedelta(minutes=minutes), code_challenge
            )
            url = _with_query(
                signup_url if signup else login_url,
                {"stytch_token_type": "magic_links", "token": token},
            )
            self._post(
                Message(
                    self._new_id("message"),
                    user.email,
                    "magic_link",
                    user.email_id,
                    now,
                    token=token,
                    url=url,
                )
            )
            return user, created

    def authenticate_magic_link(
        self,
        token: str,
        code_verifier: str | None,
        minutes: int,
        current: Session | None,
        client: Client,
    ) -> Authenticated:
        with self._lock:
            link = self._magic_links.get(token)
            if link is None or link.purpose != "magic_link":
                raise EmulatorError(
                    404, errors.MAGIC_LINK_NOT_FOUND, "The magic link could not be found."
                )
            if link.used or self.clock.now() >= link.expires_at:
                raise EmulatorError(
                    401,
                    errors.UNABLE_TO_AUTH_MAGIC_LINK,
                    "The magic link has already been used or has expired.",
                )
            check_pkce(link.code_challenge, code_verifier)
            link.used = True
            user = self._users[link.user_id]
            user.email_verified = True
            factor = Factor("magic_link", "email", user.email_id, user.email, self.clock.now())
            return self._start_or_join_session(user, factor, minutes, current, client)

    # -- passwords -----------------------------------------------------------------------

    def authenticate_password(
        self, email: str, password: str, minutes: int, current: Session | None, client: Client
    ) -> Authenticated:
        with self._lock:
            self._issued["passwords"].append(password)
            user, _ = self._user_for_email(email, create=False)
            if user is None or user.password is None or not user.password.matches(password):
                raise EmulatorError(
                    401, errors.UNAUTHORIZED_CREDENTIALS, "The email or password is wrong."
                )
            factor = Factor("password", "knowledge", user.email_id, user.email, self.clock.now())
            return self._start_or_join_session(user, factor, minutes, current, client)

    def check_strength(self, password: str, email: str | None) -> dict[str, Any]:
        with self._lock:
            self._issued["passwords"].append(password)
        return password_strength(password, email)

    def _require_strong(self, password: str, email: str | None) -> None:
        verdict = password_strength(password, email)
        if not verdict["valid_password"]:
            warning = verdict["feedback"]["warning"]
            raise EmulatorError(
                400,
                errors.WEAK_PASSWORD,
                f"The password is too weak: {warning} Check it with passwords/strength_check.",
            )

    def _set_password(self, user: User, password: str) -> None:
        self._issued["passwords"].append(password)
        user.password = PasswordHash.create(self._new_id("password"), password)

    def _password_factor(self, user: User) -> Factor:
        return Factor("password", "knowledge", user.email_id, user.email, self.clock.now())

    def create_password(
        self, email: str, password: str, minutes: int, current: Session | None, client: Client
    ) -> Authenticated:
        """A new user with a password (``passwords`` create); the address must be new."""
        with self._lock:
            self._issued["passwords"].append(password)
            if email.lower() in self._user_by_email:
                raise EmulatorError(
                    400, errors.DUPLICATE_EMAIL, "A user with this email already exists."
                )
            self._require_strong(password, email)
            user, _ = self._user_for_email(email, create=True)
            assert user is not None
            self._set_password(user, password)
            factor = self._password_factor(user)
            return self._start_or_join_session(user, factor, minutes, current, client)

    def send_password_reset(
        self, email: str, *, url: str, minutes: int, code_challenge: str | None
    ) -> User:
        with self._lock:
            user, _ = self._user_for_email(email, create=False)
            if user is None:
                raise EmulatorError(404, errors.EMAIL_NOT_FOUND, "No user has this email address.")
            now = self.clock.now()
            token = secrets.token_urlsafe(33)
            self._magic_links[token] = MagicLink(
                user.user_id,
                token,
                now + timedelta(minutes=minutes),
                code_challenge,
                purpose="reset_password",
            )
            link = _with_query(url, {"stytch_token_type": "reset_password", "token": token})
            message = Message(
                self._new_id("message"),
                user.email,
                "password_reset",
                user.email_id,
                now,
                token=token,
                url=link,
            )
            self._post(message)
            return user

    def reset_password_by_email(
        self,
        token: str,
        password: str,
        code_verifier: str | None,
        minutes: int,
        current: Session | None,
        client: Client,
    ) -> Authenticated:
        with self._lock:
            self._issued["passwords"].append(password)
            link = self._magic_links.get(token)
            if (
                link is None
                or link.purpose != "reset_password"
                or link.used
                or self.clock.now() >= link.expires_at
            ):
                raise EmulatorError(
                    401,
                    errors.UNABLE_TO_AUTH_PASSWORD_RESET_TOKEN,
                    "The password reset link is unknown, already used or expired.",
                )
            check_pkce(link.code_challenge, code_verifier)
            user = self._users[link.user_id]
            self._require_strong(password, user.email)
            link.used = True
            user.email_verified = True
            self._set_password(user, password)
            # The link proves the address, the new password the knowledge: both are factors.
            emailed = Factor("magic_link", "email", user.email_id, user.email, self.clock.now())
            joined = self._start_or_join_session(user, emailed, minutes, current, client)
            return self._start_or_join_session(
                user, self._password_factor(user), minutes, joined.session, client
            )

    def reset_password_existing(
        self, email: str, existing: str, new: str, minutes: int, client: Client
    ) -> Authenticated:
        with self._lock:
            self._issued["passwords"] += [existing, new]
            user, _ = self._user_for_email(email, create=False)
            if user is None or user.password is None or not user.password.matches(existing):
                raise EmulatorError(
                    401, errors.UNAUTHORIZED_CREDENTIALS, "The email or password is wrong."
                )
            self._require_strong(new, user.email)
            self._set_password(user, new)
            return self._start_or_join_session(
                user, self._password_factor(user), minutes, None, client
            )

    def reset_password_in_session(
        self, session: Session, password: str, minutes: int, client: Client
    ) -> Authenticated:
        with self._lock:
            self._issued["passwords"].append(password)
            self._sessions.live(session)
            user = self._users[session.user_id]
            self._require_strong(password, user.email)
            self._set_password(user, password)
            return self._start_or_join_session(
                user, self._password_factor(user), minutes, session, client
            )

    # -- TOTP ----------------------------------------------------------------------------

    def create_totp(self, user_id: str) -> tuple[User, Totp, str]:
        """A new, unverified authenticator registration: ``(user, totp, qr_code)``."""
        with self._lock:
            user = self.user(user_id)
            if any(t.verified for t in user.totps):
                raise EmulatorError(
                    400,
                    errors.ACTIVE_TOTP_EXISTS,
                    "This user already has an authenticator app; delete it first.",
                )
            user.totps = [t for t in user.totps if t.verified]  # a new one replaces a pending one
            secret = totp.new_secret()
            record = Totp(self._new_id("totp"), secret, totp.recovery_codes())
            user.totps.append(record)
            self._issued["totp_secrets"].append(secret)
            self._issued["totp_recovery_codes"] += record.recovery_codes
            account = user.email or (user.phones[0].phone_number if user.phones else user.user_id)
            qr = totp.qr_code_data_url(totp.provisioning_uri(secret, account))
            return user, record, qr

    def _totps_of(self, user_id: str) -> tuple[User, list[Totp]]:
        user = self.user(user_id)
        if not user.totps:
            raise EmulatorError(
                404, errors.TOTPS_NOT_FOUND_FOR_USER, "This user has no authenticator app."
            )
        return user, user.totps

    def authenticate_totp(
        self, user_id: str, code: str, minutes: int, current: Session | None, client: Client
    ) -> tuple[Authenticated, Totp]:
        with self._lock:
            user, totps = self._totps_of(user_id)
            now = self.clock.now()
            for record in totps:
                step = totp.matching_step(record.secret, code, now)
                if step is None:
                    continue
                if step <= record.last_step:
                    raise EmulatorError(
                        400,
                        errors.TOTP_CODE_ALREADY_AUTHENTICATED,
                        "This code was already used: wait for the next one.",
                    )
                record.last_step = step
                record.verified = True
                factor = Factor(
                    "totp",
                    "authenticator_app",
                    user.email_id,
                    user.email,
                    now,
                    detail=("authenticator_app_factor", {"totp_id": record.totp_id}),
                )
                return self._start_or_join_session(user, factor, minutes, current, client), record
            raise EmulatorError(
                401, errors.INVALID_TOTP_CODE, "The code is wrong or from another time window."
            )

    def recover_totp(
        self,
        user_id: str,
        recovery_code: str,
        minutes: int,
        current: Session | None,
        client: Client,
    ) -> tuple[Authenticated, Totp]:
        with self._lock:
            user, totps = self._totps_of(user_id)
            for record in totps:
                found = next(
                    (c for c in record.recovery_codes if same_secret(c, recovery_code.strip())),
                    None,
                )
                if found is None:
                    continue
                record.recovery_codes.remove(found)
                record.verified = True
                factor = Factor(
                    "recovery_codes",
                    "recovery_code",
                    user.email_id,
                    user.email,
                    self.clock.now(),
                    detail=("recovery_code_factor", {"totp_recovery_code_id": record.totp_id}),
                )
                return self._start_or_join_session(user, factor, minutes, current, client), record
            raise EmulatorError(
                401,
                errors.UNABLE_TO_AUTHENTICATE_RECOVERY_CODE,
                "The recovery code is wrong or already used.",
            )

    def totp_recovery_codes(self, user_id: str) -> tuple[User, list[Totp]]:
        with self._lock:
            return self._totps_of(user_id)

    # -- users: update, delete a factor --------------------------------------------------

    def update_user(
        self, user_id: str, name: dict[str, str] | None, untrusted_metadata: dict[str, Any] | None
    ) -> User:
        with self._lock:
            user = self.user(user_id)
            if name is not None:
                user.name.update(name)
            for key, value in (untrusted_metadata or {}).items():
                if value is None:
                    user.untrusted_metadata.pop(key, None)
                else:
                    user.untrusted_metadata[key] = value
            return user

    def owner_of_factor(self, kind: str, factor_id: str) -> str:
        """The user_id of whoever has that email, phone number, TOTP or OAuth registration: the
        backend names a factor by its id alone. The kind's own 404 if nobody has it."""
        with self._lock:
            for user in self._users.values():
                if factor_id and factor_id in _factor_ids(user, kind):
                    return user.user_id
        raise _factor_not_found(kind)

    def delete_factor(self, user_id: str, kind: str, factor_id: str) -> User:
        """Remove one of the user's emails, phone numbers, TOTPs or OAuth registrations."""
        with self._lock:
            user = self.user(user_id)
            if not factor_id or factor_id not in _factor_ids(user, kind):
                raise _factor_not_found(kind)
            if kind == "emails":
                self._user_by_email.pop(user.email, None)
                user.email, user.email_id, user.email_verified = "", "", False
                return user
            items, key = _FACTOR_LISTS[kind]
            listed: list[Any] = getattr(user, items)
            listed[:] = [item for item in listed if getattr(item, key) != factor_id]
            return user

    # -- OAuth (the emulator plays the identity provider) --------------------------------

    def start_oauth(
        self,
        provider: str,
        *,
        login_url: str,
        signup_url: str,
        code_challenge: str | None,
        scopes: list[str],
    ) -> OAuthStart:
        with self._lock:
            start = OAuthStart(
                flow_id=secrets.token_urlsafe(24),
                provider=provider,
                login_redirect_url=login_url,
                signup_redirect_url=signup_url,
                code_challenge=code_challenge,
                scopes=scopes,
                expires_at=self.clock.now() + timedelta(minutes=OAUTH_START_MINUTES),
            )
            self._oauth_starts[start.flow_id] = start
            return start

    def pending_oauth(self, flow_id: str) -> OAuthStart:
        with self._lock:
            start = self._oauth_starts.get(flow_id)
            if start is None or start.used or self.clock.now() >= start.expires_at:
                raise EmulatorError(
                    404,
                    errors.OAUTH_FLOW_NOT_FOUND,
                    "This sign-in was already finished or has expired: start it again.",
                )
            return start

    def finish_oauth(self, flow_id: str, email: str | None) -> str:
        """The consent page's answer: approve as ``email``, or deny (None). Returns the URL
        the browser goes back to; the flow is used up either way."""
        with self._lock:
            start = self.pending_oauth(flow_id)
            start.used = True
            if email is None:
                return _with_query(
                    start.login_redirect_url,
                    {
                        "stytch_token_type": "oauth",
                        "status_code": "400",
                        "error_type": errors.OAUTH_USER_DENIED,
                        "error_message": "The user denied access at the identity provider.",
                    },
                )
            user, created = self._user_for_email(email, create=True)
            assert user is not None
            signup = created or user.status == "pending"
            registration = next((r for r in user.providers if r.provider == start.provider), None)
            if registration is None:
                registration = OAuthRegistration(
                    provider=start.provider,
                    provider_type=OAUTH_PROVIDERS[start.provider],
                    provider_subject=f"{start.provider}-subject-{uuid.uuid4().hex[:16]}",
                    registration_id=self._new_id("oauth-user-registration"),
                )
                user.providers.append(registration)
            token = secrets.token_urlsafe(33)
            self._oauth_tokens[token] = OAuthToken(
                token=token,
                user_id=user.user_id,
                registration=registration,
                code_challenge=start.code_challenge,
                scopes=list(start.scopes),
                expires_at=self.clock.now() + timedelta(minutes=OAUTH_TOKEN_MINUTES),
            )
            self._issued["oauth_tokens"].append(token)
            url = start.signup_redirect_url if signup else start.login_redirect_url
            return _with_query(url, {"stytch_token_type": "oauth", "token": token})

    def authenticate_oauth(
        self,
        token: str,
        code_verifier: str | None,
        minutes: int,
        current: Session | None,
        client: Client,
    ) -> tuple[Authenticated, OAuthToken, dict[str, Any]]:
        """``(auth, the token's record, provider_values)``; a token works once."""
        with self._lock:
            found = self._oauth_tokens.get(token)
            if found is None or found.used:
                raise EmulatorError(
                    404, errors.OAUTH_TOKEN_NOT_FOUND, "The OAuth token could not be found."
                )
            if self.clock.now() >= found.expires_at:
                raise EmulatorError(
                    401, errors.EXPIRED_OAUTH_RESPONSE, "The OAuth token has expired."
                )
            check_pkce(found.code_challenge, code_verifier)
            found.used = True
            user = self._users[found.user_id]
            user.email_verified = True  # the provider vouches for the address
            registration = found.registration
            now = self.clock.now()
            factor = Factor(
                "oauth",
                f"oauth_{registration.provider}",
                user.email_id,
                user.email,
                now,
                detail=(
                    f"{_FACTOR_PREFIXES.get(registration.provider, registration.provider)}"
                    "_oauth_factor",
                    {
                        "id": registration.registration_id,
                        "provider_subject": registration.provider_subject,
                        "email_id": user.email_id,
                    },
                ),
            )
            auth = self._start_or_join_session(user, factor, minutes, current, client)
            access = f"{registration.provider}-access-{secrets.token_urlsafe(24)}"
            refresh = f"{registration.provider}-refresh-{secrets.token_urlsafe(24)}"
            self._issued["provider_tokens"] += [access, refresh]
            provider_values = {
                "access_token": access,
                "refresh_token": refresh,
                "id_token": "",
                "scopes": list(found.scopes),
                "expires_at": _rfc3339(now + timedelta(seconds=OAUTH_ACCESS_TOKEN_SECONDS)),
            }
            return auth, found, provider_values

    def users(self) -> list[User]:
        with self._lock:
            return list(self._users.values())

    # -- outbox --------------------------------------------------------------------------

    def _post(self, message: Message) -> None:
        self._outbox.append(message)
        if self._announce is not None:
            self._announce(message.one_line())
        if message.code:
            self._issued["otp_codes"].append(message.code)
        if message.token:
            self._issued["magic_link_tokens"].append(message.token)

    def post(self, message: Message) -> None:
        """Put a message (email or SMS) in the outbox."""
        with self._lock:
            self._post(message)

    def new_message_id(self) -> str:
        return self._new_id("message")

    def record(self, kind: str, secret: str) -> None:
        """Remember a secret minted or received, for the leak scans."""
        with self._lock:
            self._issued.setdefault(kind, []).append(secret)

    def issued(self) -> dict[str, list[str]]:
        """Every session token, JWT, code and link token minted, and every password received."""
        with self._lock:
            return {kind: list(values) for kind, values in self._issued.items()}

    def outbox(self, email: str | None = None) -> list[Message]:
        with self._lock:
            if email is None:
                return list(self._outbox)
            return [m for m in self._outbox if m.to == email.lower()]


def _pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_pkce(challenge: str | None, verifier: str | None) -> None:
    """S256, the verifier an opaque string; raises the ``pkce_*`` error that applies."""
    if challenge is None:
        if verifier:
            raise EmulatorError(
                400,
                errors.PKCE_DID_NOT_EXPECT_CODE_VERIFIER,
                "A code_verifier was sent, but the flow was started without a code_challenge.",
            )
        return
    if not verifier:
        raise EmulatorError(
            400,
            errors.PKCE_EXPECTED_CODE_VERIFIER,
            "The flow was started with a code_challenge: send its code_verifier.",
        )
    if not same_secret(_pkce_challenge(verifier), challenge):
        raise EmulatorError(
            400, errors.PKCE_MISMATCH, "The code_verifier does not match the challenge."
        )


# A user's factors by the kind a delete names them with: (the User attribute, the id field).
_FACTOR_LISTS: dict[str, tuple[str, str]] = {
    "phone_numbers": ("phones", "phone_id"),
    "totps": ("totps", "totp_id"),
    "oauth": ("providers", "registration_id"),
}
_FACTOR_MISSING = {
    "emails": errors.EMAIL_NOT_FOUND,
    "phone_numbers": errors.PHONE_NUMBER_NOT_FOUND,
    "totps": errors.TOTP_NOT_FOUND,
    "oauth": errors.OAUTH_USER_REGISTRATION_NOT_FOUND,
}


def _factor_ids(user: User, kind: str) -> set[str]:
    if kind == "emails":
        return {user.email_id} if user.email_id else set()
    items, key = _FACTOR_LISTS[kind]
    return {getattr(item, key) for item in getattr(user, items)}


def _factor_not_found(kind: str) -> EmulatorError:
    noun = {"emails": "email", "phone_numbers": "phone number", "totps": "TOTP"}.get(
        kind, "OAuth registration"
    )
    return EmulatorError(404, _FACTOR_MISSING[kind], f"This user has no such {noun}.")
