"""The session lookups the consumer and the B2B project share (emulator/session_book.py):
live sessions only, by token, JWT, id or either credential; reserved claims left alone; a
revoked session found by nothing; the project's own notion of "usable" honoured."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from stytch_jupyter.emulator.errors import EmulatorError
from stytch_jupyter.emulator.keys import shared_signing_key
from stytch_jupyter.emulator.models import Session
from stytch_jupyter.emulator.session_book import SESSION_CLAIM, SessionBook

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
PROJECT = "project-test-book"


def session(number: int, minutes: int = 30) -> Session:
    return Session(
        session_id=f"session-{number}",
        user_id="user-1",
        token=f"token-{number}",
        started_at=NOW,
        last_accessed_at=NOW,
        expires_at=NOW + timedelta(minutes=minutes),
        ip_address="",
        user_agent="",
    )


def jwt_for(found: Session, project: str = PROJECT) -> str:
    issued = int(NOW.timestamp())
    return shared_signing_key().mint(
        {
            "sub": found.user_id,
            "iss": f"stytch.com/{project}",
            "aud": [project],
            "iat": issued,
            "nbf": issued,
            "exp": issued + 300,
            SESSION_CLAIM: {"id": found.session_id},
        }
    )


def not_found(call: object) -> int:
    assert callable(call)
    with pytest.raises(EmulatorError) as raised:
        call()
    return raised.value.status_code


def test_lookups_find_live_sessions_only() -> None:
    usable = {"session-1", "session-2", "session-3"}
    book: SessionBook[Session] = SessionBook(
        shared_signing_key(),
        PROJECT,
        lambda: NOW,
        reserved_claims=frozenset({"sub"}),
        usable=lambda s: s.session_id in usable,
    )
    one, two, gone, unusable = session(1), session(2), session(3, minutes=-1), session(4)
    for each in (one, two, gone, unusable):
        book.add(each.session_id, each)
    assert book.by_token("token-1") is one
    assert book.by_credential("token-2") is two
    assert book.by_jwt(jwt_for(one)) is one and book.by_credential(jwt_for(two)) is two
    assert book.by_id("session-2") is two
    assert not_found(lambda: book.by_token("token-3")) == 404  # expired
    assert not_found(lambda: book.by_id("session-4")) == 404  # not usable to its project
    assert not_found(lambda: book.by_token("nonsense")) == 404
    assert not_found(lambda: book.by_jwt(jwt_for(one, "project-test-other"))) == 401

    book.touch(one, 90, {"sub": "mallory", "role": "admin"})
    assert one.expires_at == NOW + timedelta(minutes=90)
    assert one.custom_claims == {"role": "admin"}
    book.touch(one, None, {"role": None})
    assert one.custom_claims == {} and one.expires_at == NOW + timedelta(minutes=90)

    book.revoke(one)
    for find in (
        lambda: book.by_token("token-1"),
        lambda: book.by_jwt(jwt_for(one)),
        lambda: book.by_id("session-1"),
    ):
        assert not_found(find) == 404
    assert [s.session_id for s in book] == ["session-1", "session-2", "session-3", "session-4"]
