"""The emulator as an OAuth identity provider over loopback: start, consent, authenticate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from stytch_jupyter.emulator import Emulator, EmulatorControlError
from tests.support.emulator_http import backend, challenge_of, data, error, loopback_client, sdk

CALLBACK = "http://127.0.0.1:8765/stytch-jupyter/callback"
SIGNUP = "http://localhost:8765/stytch-jupyter/callback?signup=1"
VERIFIER = "a-verifier-the-emulator-treats-as-opaque-" + "0" * 60


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with loopback_client(emulator.api_url, timeout=10) as client:
        yield client


def token_of(url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    assert query["stytch_token_type"] == ["oauth"], url
    return query["token"][0]


def approve(emu: Emulator, email: str, provider: str = "google", **kwargs) -> str:
    kwargs.setdefault("login_redirect_url", CALLBACK)
    start = emu.oauth_start_url(provider, **kwargs)
    return emu.oauth_consent(start, email)


def test_approve_then_authenticate_with_the_verifier(http, emulator) -> None:
    back = approve(
        emulator,
        "ada@example.com",
        code_challenge=challenge_of(VERIFIER),
        signup_redirect_url=SIGNUP,
        custom_scopes=("calendar.read",),
    )
    assert back.startswith(SIGNUP + "&")  # a new user goes to the signup URL, query kept
    body = {"token": token_of(back), "code_verifier": VERIFIER, "session_duration_minutes": 60}
    got = data(sdk(http, emulator, "oauth/authenticate", body))
    assert got["provider_type"] == "Google"
    assert got["provider_subject"].startswith("google-subject-")
    values = got["provider_values"]
    assert set(values) == {"access_token", "refresh_token", "id_token", "scopes", "expires_at"}
    assert values["scopes"] == ["openid", "email", "profile", "calendar.read"]
    assert values["access_token"] in emulator.issued()["provider_tokens"]
    assert got["reset_sessions"] is False
    [factor] = got["session"]["authentication_factors"]
    assert (factor["type"], factor["delivery_method"]) == ("oauth", "oauth_google")
    assert factor["google_oauth_factor"] == {
        "id": got["oauth_user_registration_id"],
        "provider_subject": got["provider_subject"],
        "email_id": got["user"]["emails"][0]["email_id"],
    }
    user = got["user"]
    assert user["status"] == "active" and user["emails"][0]["verified"] is True
    assert user["providers"] == [
        {
            "provider_type": "Google",
            "provider_subject": got["provider_subject"],
            "profile_picture_url": "",
            "locale": "",
            "oauth_user_registration_id": got["oauth_user_registration_id"],
        }
    ]
    session = data(sdk(http, emulator, "sessions/authenticate", {}, got["session_token"]))
    assert session["user_id"] == got["user_id"]
    # The same person again: the login URL, the same registration.
    again = approve(emulator, "ada@example.com", code_challenge=challenge_of(VERIFIER))
    assert again.startswith(CALLBACK + "?")
    body = {"token": token_of(again), "code_verifier": VERIFIER}
    second = data(sdk(http, emulator, "oauth/authenticate", body))
    assert second["oauth_user_registration_id"] == got["oauth_user_registration_id"]
    assert second["user_id"] == got["user_id"]


def test_a_token_works_once(http, emulator) -> None:
    token = token_of(approve(emulator, "ada@example.com"))
    data(sdk(http, emulator, "oauth/authenticate", {"token": token}))
    error(sdk(http, emulator, "oauth/authenticate", {"token": token}), 404, "oauth_token_not_found")
    error(
        sdk(http, emulator, "oauth/authenticate", {"token": "no-such-token"}),
        404,
        "oauth_token_not_found",
    )


def test_pkce_errors_leave_the_token_usable(http, emulator) -> None:
    token = token_of(approve(emulator, "ada@example.com", code_challenge=challenge_of(VERIFIER)))
    call = "oauth/authenticate"
    error(sdk(http, emulator, call, {"token": token}), 400, "pkce_expected_code_verifier")
    wrong = {"token": token, "code_verifier": VERIFIER + "x"}
    error(sdk(http, emulator, call, wrong), 400, "pkce_mismatch")
    data(sdk(http, emulator, call, {"token": token, "code_verifier": VERIFIER}))
    plain = token_of(approve(emulator, "bob@example.com"))
    unexpected = {"token": plain, "code_verifier": VERIFIER}
    error(sdk(http, emulator, call, unexpected), 400, "pkce_did_not_expect_code_verifier")


def test_an_old_token_has_expired(http, emulator) -> None:
    token = token_of(approve(emulator, "ada@example.com"))
    emulator.advance_clock(10 * 60 + 1)
    error(
        sdk(http, emulator, "oauth/authenticate", {"token": token}), 401, "expired_oauth_response"
    )


def test_backend_oauth_authenticate(http, emulator) -> None:
    token = token_of(approve(emulator, "ada@example.com", code_challenge=challenge_of(VERIFIER)))
    got = data(
        backend(http, emulator, "oauth/authenticate", {"token": token, "code_verifier": VERIFIER})
    )
    assert got["provider_type"] == "Google" and got["session_token"]


def test_deny_redirects_with_a_stytch_error_and_creates_no_user(http, emulator) -> None:
    start = emulator.oauth_start_url("github", login_redirect_url=CALLBACK)
    back = emulator.oauth_consent(start, None)
    query = parse_qs(urlsplit(back).query)
    assert back.startswith(CALLBACK + "?")
    assert query["error_type"] == ["oauth_user_denied_access"]
    assert query["status_code"] == ["400"] and query["error_message"]
    assert "token" not in query
    assert emulator.issued()["oauth_tokens"] == []
    assert emulator.control.users() == []


def test_consent_page_lists_users_escapes_them_and_uses_a_flow_once(http, emulator) -> None:
    emulator.create_user("ada@example.com")
    emulator.create_user("o'<b>@example.com")
    page = http.get(emulator.oauth_start_url("github", login_redirect_url=CALLBACK))
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert 'value="ada@example.com"' in page.text
    assert "<b>" not in page.text and "o&#x27;&lt;b&gt;@example.com" in page.text
    assert "Sign in with GitHub" in page.text
    flow = re.search(r'name="flow" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    form = {"flow": flow, "decision": "approve", "user": "ada@example.com"}
    answer = http.post("/emulator/v1/oauth/consent", data=form)
    assert answer.status_code == 303
    token = token_of(answer.headers["location"])
    got = data(sdk(http, emulator, "oauth/authenticate", {"token": token}))
    assert got["user"]["emails"][0]["email"] == "ada@example.com"
    error(http.post("/emulator/v1/oauth/consent", data=form), 404, "oauth_flow_not_found")


@pytest.mark.parametrize(
    ("form", "status", "kind"),
    [
        ({"decision": "approve", "email": "not an email"}, 400, "invalid_email"),
        ({"decision": "approve"}, 400, "invalid_email"),
        ({"decision": "maybe", "email": "a@b.io"}, 400, "bad_request"),
    ],
)
def test_a_bad_consent_answer_keeps_the_flow_open(http, emulator, form, status, kind) -> None:
    page = http.get(emulator.oauth_start_url("google", login_redirect_url=CALLBACK))
    flow = re.search(r'name="flow" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    error(http.post("/emulator/v1/oauth/consent", data={"flow": flow, **form}), status, kind)
    answer = http.post(
        "/emulator/v1/oauth/consent", data={"flow": flow, "decision": "approve", "email": "a@b.io"}
    )
    assert answer.status_code == 303


@pytest.mark.parametrize(
    ("change", "status", "kind"),
    [
        ({"provider": "myspace"}, 400, "invalid_oauth_provider"),
        ({"public_token": "public-token-test-other"}, 401, "invalid_public_token"),
        ({"public_token": "é"}, 401, "invalid_public_token"),
        (
            {"login_redirect_url": "https://evil.example/steal"},
            400,
            "no_match_for_provided_oauth_url",
        ),
        (
            {"signup_redirect_url": "http://127.0.0.1:1/other"},
            400,
            "no_match_for_provided_oauth_url",
        ),
        ({"code_challenge": "short"}, 400, "invalid_pkce_code_challenge"),
        ({"code_challenge": "é" * 43}, 400, "invalid_pkce_code_challenge"),
    ],
)
def test_a_bad_start_is_refused_and_changes_nothing(http, emulator, change, status, kind) -> None:
    params = {"public_token": emulator.public_token, "login_redirect_url": CALLBACK}
    provider = change.pop("provider", "google")
    params.update(change)
    error(http.get(f"/v1/public/oauth/{provider}/start", params=params), status, kind)
    assert emulator.issued()["oauth_tokens"] == []
    assert emulator.control.users() == []


def test_the_allowlist_and_pkce_required_are_settings() -> None:
    app = "https://app.example/auth/done"
    with Emulator(redirect_urls=[app], pkce_required=["oauth"]) as emu:
        with pytest.raises(EmulatorControlError) as refused:
            emu.oauth_consent(emu.oauth_start_url("google", login_redirect_url=app), "a@b.io")
        assert refused.value.error_type == "pkce_expected_code_challenge"
        back = emu.oauth_consent(
            emu.oauth_start_url(
                "google", login_redirect_url=app, code_challenge=challenge_of(VERIFIER)
            ),
            "a@b.io",
        )
        assert back.startswith(app + "?stytch_token_type=oauth&token=")


def test_without_redirect_urls_the_emulator_landing_page_is_used(http, emulator) -> None:
    back = emulator.oauth_consent(emulator.oauth_start_url("google"), "ada@example.com")
    assert back.startswith(f"{emulator.api_url}/emulator/v1/magic-link?stytch_token_type=oauth")
    landing = http.get(back)
    assert "OAuth redirect received" in landing.text


def test_the_start_without_v1_works_too(http, emulator) -> None:
    params = {"public_token": emulator.public_token, "login_redirect_url": CALLBACK}
    assert http.get("/public/oauth/google/start", params=params).status_code == 200


def test_magic_links_follow_pkce_required_and_strict_redirect_urls() -> None:
    with (
        Emulator(pkce_required=["email_magic_links"], strict_magic_link_urls=True) as emu,
        loopback_client(emu.api_url) as http,
    ):
        send = "magic_links/email/login_or_create"
        body = {"email": "a@b.io", "login_magic_link_url": CALLBACK}
        error(sdk(http, emu, send, body), 400, "pkce_expected_code_challenge")
        body["code_challenge"] = challenge_of(VERIFIER)
        data(sdk(http, emu, send, body))
        elsewhere = {**body, "login_magic_link_url": "https://evil.example/x"}
        error(sdk(http, emu, send, elsewhere), 400, "no_match_for_provided_magic_link_url")
        assert len(emu.outbox()) == 1
        token = emu.outbox()[0]["token"]
        auth = "magic_links/authenticate"
        error(sdk(http, emu, auth, {"token": token}), 400, "pkce_expected_code_verifier")
        data(sdk(http, emu, auth, {"token": token, "code_verifier": VERIFIER}))


@pytest.mark.parametrize(
    ("provider", "detail"),
    [
        ("gitlab", "git_lab_oauth_factor"),
        ("linkedin", "linked_in_oauth_factor"),
        ("slack", "slack_oauth_factor"),
    ],
)
def test_the_factor_detail_is_named_as_the_spec_does(http, emulator, provider, detail) -> None:
    token = token_of(approve(emulator, "ada@example.com", provider=provider))
    got = data(sdk(http, emulator, "oauth/authenticate", {"token": token}))
    [factor] = got["session"]["authentication_factors"]
    assert factor["delivery_method"] == f"oauth_{provider}" and detail in factor
