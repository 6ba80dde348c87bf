"""Model objects built from fixed wire dicts, for tests that render them without a server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from stytch_jupyter.api.models import Session, User

NOW = datetime(2026, 11, 27, 7, 27, 0, tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_session(**overrides: Any) -> Session:
    data: dict[str, Any] = {
        "session_id": "session-test-1a2b3c4d-0000-4000-8000-000000000000",
        "user_id": "user-test-5e6f7a8b-0000-4000-8000-000000000000",
        "started_at": iso(NOW - timedelta(minutes=1)),
        "last_accessed_at": iso(NOW),
        "expires_at": iso(NOW + timedelta(minutes=4, seconds=5)),
        "authentication_factors": [
            {
                "type": "otp",
                "delivery_method": "email",
                "last_authenticated_at": iso(NOW),
                "email_factor": {"email_address": "ada@example.com", "email_id": "e"},
            }
        ],
        "roles": ["stytch_user"],
    }
    data.update(overrides)
    return Session.from_dict(data)


def make_user(first_name: str = "Ada", email: str = "ada@example.com") -> User:
    return User.from_dict(
        {
            "user_id": "user-test-5e6f7a8b-0000-4000-8000-000000000000",
            "emails": [{"email_id": "email-test-1", "email": email, "verified": True}],
            "status": "active",
            "name": {"first_name": first_name, "last_name": "Lovelace"},
            "created_at": iso(NOW - timedelta(days=3)),
            "roles": [],
        }
    )
