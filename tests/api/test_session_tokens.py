"""SessionTokens refuses a token with whitespace anywhere in it (a paste that broke a line)."""

from __future__ import annotations

import pytest

from stytch_jupyter.api.models import SessionTokens

JWT = "eyJhbGciOiJSUzI1NiJ9." + "a" * 700 + ".sig"


@pytest.mark.parametrize(
    "opaque, jwt",
    [
        ("tok en", JWT),
        ("token\n", JWT),
        ("\ttoken", JWT),
        ("token", JWT[:300] + "\n" + JWT[300:]),
        ("token", JWT + " "),
        ("token", JWT.replace("a", "\u00a0", 1)),  # a no-break space from a web page
    ],
)
def test_whitespace_anywhere_is_refused(opaque: str, jwt: str) -> None:
    with pytest.raises(ValueError, match="contains whitespace"):
        SessionTokens(opaque=opaque, jwt=jwt)


def test_a_whole_pair_is_kept_as_given() -> None:
    tokens = SessionTokens(opaque="session-token-1", jwt=JWT)
    assert (tokens.opaque, tokens.jwt) == ("session-token-1", JWT)
