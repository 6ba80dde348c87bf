"""Stytch's official browser SDK (``@stytch/vanilla-js``, pinned in ``sdk/package.json``) in
Chromium against the emulator: a page on another loopback origin, every call through the SDK's
public API, nothing in the emulator changed for the test.

The bundle is built by ``.ci/run``; if it is missing, the fixture builds it with npm.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import http.server
import os
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, Page

from stytch_jupyter.emulator import Emulator
from tests.conftest import PASSWORD

from .conftest import VIEWPORT

pytestmark = pytest.mark.browser

SDK_DIR = Path(__file__).parent / "sdk"
BUNDLE = SDK_DIR / "dist" / "bundle.js"
EMAIL = "ada@example.com"


def build_bundle() -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm not found: install nodejs and npm (bash .ci/run does), then rerun")
    if not (SDK_DIR / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=SDK_DIR, check=True)
    subprocess.run([npm, "run", "build"], cwd=SDK_DIR, check=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """The test page on its own loopback origin (so every SDK call is cross-origin, as in life)."""
    if not BUNDLE.exists() or os.environ.get("STYTCH_JUPYTER_REBUILD_SDK"):
        build_bundle()
    handler = functools.partial(_QuietHandler, directory=str(SDK_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture
def sdk_page(browser: Browser, page_origin: str, emulator: Emulator) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "requestfailed",
        lambda request: problems.append(f"request failed: {request.method} {request.url}"),
    )
    query = urlencode({"api": emulator.api_url, "public_token": emulator.public_token})
    page.goto(f"{page_origin}/index.html?{query}")
    page.wait_for_function("window.sdkReady === true")
    yield page
    context.close()
    assert not problems, problems


def call(page: Page, script: str, *args: Any) -> Any:
    """Run ``script`` (the body of an async function of ``args``, with ``stytch`` in scope)."""
    return page.evaluate(
        f"async (args) => {{ const stytch = window.stytch; {script} }}", list(args)
    )


def failure(page: Page, script: str, *args: Any) -> dict[str, Any]:
    """What the SDK threw for ``script``, as the fields of its error type."""
    result: dict[str, Any] = call(
        page,
        f"""try {{ {script}; return {{threw: false}}; }} catch (e) {{
              return {{threw: true, api: e instanceof window.StytchAPIError,
                       type: e.error_type, status: e.status_code, name: e.name}}; }}""",
        *args,
    )
    assert result["threw"], f"the SDK did not throw for {script}"
    return result


def otp_sign_in(page: Page, emulator: Emulator, email: str = EMAIL) -> dict[str, Any]:
    sent = call(page, "return await stytch.otps.email.loginOrCreate(args[0]);", email)
    method_id, code = emulator.last_otp(email)
    assert sent["method_id"] == method_id
    signed_in: dict[str, Any] = call(
        page,
        "return await stytch.otps.authenticate(args[0], args[1], {session_duration_minutes: 60});",
        code,
        method_id,
    )
    return signed_in


def test_email_otp_sign_in_and_session_checks(sdk_page: Page, emulator) -> None:
    signed_in = otp_sign_in(sdk_page, emulator)
    assert signed_in["user"]["emails"][0]["email"] == EMAIL
    session = call(sdk_page, "return stytch.session.getSync();")
    assert session["session_id"] == signed_in["session"]["session_id"]
    tokens = call(sdk_page, "return stytch.session.getTokens();")
    assert tokens["session_token"] == signed_in["session_token"]
    # The session check without a duration keeps the expiry; with one, sets it from now.
    checked = call(sdk_page, "return await stytch.session.authenticate();")
    assert checked["session"]["expires_at"] == signed_in["session"]["expires_at"]
    extended = call(
        sdk_page, "return await stytch.session.authenticate({session_duration_minutes: 600});"
    )
    assert extended["session"]["expires_at"] > signed_in["session"]["expires_at"]
    # The SDK keeps the server's answer.
    assert (
        call(sdk_page, "return stytch.session.getSync().expires_at;")
        == extended["session"]["expires_at"]
    )


def test_a_wrong_code_is_the_sdks_error_type(sdk_page: Page, emulator) -> None:
    sent = call(sdk_page, "return await stytch.otps.email.loginOrCreate(args[0]);", EMAIL)
    got = failure(
        sdk_page,
        "await stytch.otps.authenticate('000000', args[0], {session_duration_minutes: 5})",
        sent["method_id"],
    )
    assert got["api"] is True and got["name"] == "StytchAPIError"
    assert (got["type"], got["status"]) == ("otp_code_not_found", 404)
    assert call(sdk_page, "return stytch.session.getSync();") is None


def test_magic_link_sign_in(sdk_page: Page, emulator) -> None:
    landing = "http://127.0.0.1:1/stytch-jupyter/callback"
    call(
        sdk_page,
        """return await stytch.magicLinks.email.loginOrCreate(args[0],
             {login_magic_link_url: args[1], signup_magic_link_url: args[1]});""",
        EMAIL,
        landing,
    )
    url = emulator.last_magic_link(EMAIL)
    assert url.startswith(landing + "?")
    token = parse_qs(urlsplit(url).query)["token"][0]
    signed_in = call(
        sdk_page,
        "return await stytch.magicLinks.authenticate(args[0], {session_duration_minutes: 30});",
        token,
    )
    assert signed_in["session"]["authentication_factors"][0]["type"] == "magic_link"
    used = failure(
        sdk_page,
        "await stytch.magicLinks.authenticate(args[0], {session_duration_minutes: 30})",
        token,
    )
    assert used["api"] and used["type"] == "unable_to_auth_magic_link"


def test_password_sign_in_and_revoke(sdk_page: Page, emulator) -> None:
    emulator.create_user(EMAIL, password=PASSWORD)
    wrong = failure(
        sdk_page,
        "await stytch.passwords.authenticate({email: args[0], password: 'nope nope nope',"
        " session_duration_minutes: 5})",
        EMAIL,
    )
    assert wrong["api"] and wrong["type"] == "unauthorized_credentials"
    signed_in = call(
        sdk_page,
        "return await stytch.passwords.authenticate({email: args[0], password: args[1],"
        " session_duration_minutes: 60});",
        EMAIL,
        PASSWORD,
    )
    assert signed_in["session"]["authentication_factors"][0]["type"] == "password"
    call(sdk_page, "return await stytch.session.revoke();")
    assert call(sdk_page, "return stytch.session.getSync();") is None
    [user] = emulator.control.users()
    assert user["sessions"] == []


def test_a_server_side_revoke_reaches_the_sdk(sdk_page: Page, emulator) -> None:
    signed_in = otp_sign_in(sdk_page, emulator)
    emulator.revoke_session(session_id=signed_in["session"]["session_id"])
    gone = failure(sdk_page, "await stytch.session.authenticate()")
    assert gone["api"] and (gone["type"], gone["status"]) == ("session_not_found", 404)
    assert call(sdk_page, "return stytch.session.getSync();") is None


def test_the_sdk_follows_pkce_required_from_bootstrap(browser: Browser, page_origin: str) -> None:
    with Emulator(pkce_required=["email_magic_links"]) as emulator:
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            page = context.new_page()
            query = urlencode({"api": emulator.api_url, "public_token": emulator.public_token})
            page.goto(f"{page_origin}/index.html?{query}")
            page.wait_for_function("window.sdkReady === true")
            # Bootstrap is fetched at start; the SDK then sends a challenge of its own.
            call(page, "return await stytch.magicLinks.email.loginOrCreate(args[0]);", EMAIL)
            token = parse_qs(urlsplit(emulator.last_magic_link(EMAIL)).query)["token"][0]
            signed_in = call(
                page,
                "return await stytch.magicLinks.authenticate(args[0],"
                " {session_duration_minutes: 5});",
                token,
            )
            assert signed_in["user"]["emails"][0]["email"] == EMAIL
        finally:
            context.close()


def totp_code(secret: str, emulator: Emulator) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    step = int(emulator.advance_clock(0).timestamp()) // 30
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[19] & 15
    return f"{(int.from_bytes(digest[offset : offset + 4], 'big') & 0x7FFFFFFF) % 10**6:06d}"


def test_passwords_users_totp_and_sms_through_the_sdk(sdk_page: Page, emulator) -> None:
    weak = call(sdk_page, "return await stytch.passwords.strengthCheck({password: 'qwerty'});")
    assert weak["valid_password"] is False and weak["feedback"]["warning"]
    refused = failure(
        sdk_page,
        "await stytch.passwords.create({email: args[0], password: 'qwerty',"
        " session_duration_minutes: 5})",
        EMAIL,
    )
    assert refused["api"] and refused["type"] == "weak_password"
    created = call(
        sdk_page,
        "return await stytch.passwords.create({email: args[0], password: args[1],"
        " session_duration_minutes: 60});",
        EMAIL,
        PASSWORD,
    )
    assert created["email_id"]
    updated = call(
        sdk_page,
        "return await stytch.user.update({name: {first_name: 'Ada'},"
        " untrusted_metadata: {theme: 'dark'}});",
    )
    assert updated["user"]["name"]["first_name"] == "Ada"
    assert call(sdk_page, "return stytch.user.getSync().untrusted_metadata;") == {"theme": "dark"}

    totp = call(sdk_page, "return await stytch.totps.create({expiration_minutes: 60});")
    assert totp["qr_code"].startswith("data:image/png;base64,")
    done = call(
        sdk_page,
        "return await stytch.totps.authenticate({totp_code: args[0],"
        " session_duration_minutes: 60});",
        totp_code(totp["secret"], emulator),
    )
    assert done["totp_id"] == totp["totp_id"]
    kinds = [
        f["type"]
        for f in call(sdk_page, "return stytch.session.getSync();")["authentication_factors"]
    ]
    assert kinds == ["password", "totp"]
    codes = call(sdk_page, "return await stytch.totps.recoveryCodes();")
    assert codes["totps"][0]["recovery_codes"] == totp["recovery_codes"]

    sent = call(sdk_page, "return await stytch.otps.sms.loginOrCreate('+15555550142');")
    method_id, code = emulator.last_sms_otp("+15555550142")
    assert sent["method_id"] == method_id
    texted = call(
        sdk_page,
        "return await stytch.otps.authenticate(args[0], args[1], {session_duration_minutes: 5});",
        code,
        method_id,
    )
    assert texted["user"]["phone_numbers"][0]["phone_number"] == "+15555550142"


def test_oauth_with_the_consent_page_and_pkce(browser: Browser, page_origin: str) -> None:
    """``stytch.oauth.google.start()`` opens the emulator's consent page; approving comes back to
    the page with a token that ``stytch.oauth.authenticate`` exchanges with the stored verifier."""
    back_to = f"{page_origin}/index.html"
    with Emulator(pkce_required=["oauth"], redirect_urls=[back_to]) as emulator:
        query = urlencode({"api": emulator.api_url, "public_token": emulator.public_token})
        landing = f"{back_to}?{query}"
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            page = context.new_page()
            page.goto(landing)
            page.wait_for_function("window.sdkReady === true")
            page.evaluate(
                "(url) => { window.stytch.oauth.google.start("
                "{login_redirect_url: url, signup_redirect_url: url}); }",
                landing,
            )
            page.wait_for_url("**/v1/public/oauth/google/start?**")
            assert "code_challenge=" in page.url  # the SDK followed pkce_required_for_oauth
            page.get_by_label("or another address").fill(EMAIL)
            page.get_by_role("button", name="Approve").click()
            page.wait_for_url(f"{back_to}?**token=**")
            page.wait_for_function("window.sdkReady === true")
            query_back = parse_qs(urlsplit(page.url).query)
            assert query_back["stytch_token_type"] == ["oauth"]
            signed_in = call(
                page,
                "return await stytch.oauth.authenticate(args[0], {session_duration_minutes: 60});",
                query_back["token"][0],
            )
            assert signed_in["provider_type"] == "Google"
            assert signed_in["user"]["emails"][0]["email"] == EMAIL
            factor = call(page, "return stytch.session.getSync().authentication_factors[0];")
            assert (factor["type"], factor["delivery_method"]) == ("oauth", "oauth_google")

            # Deny comes back with Stytch's error fields and no token.
            page.evaluate(
                "(url) => { window.stytch.oauth.github.start({login_redirect_url: url}); }",
                landing,
            )
            page.wait_for_url("**/v1/public/oauth/github/start?**")
            page.get_by_role("button", name="Deny").click()
            page.wait_for_url(f"{back_to}?**error_type=**")
            denied = parse_qs(urlsplit(page.url).query)
            assert denied["error_type"] == ["oauth_user_denied_access"] and "token" not in denied
        finally:
            context.close()
