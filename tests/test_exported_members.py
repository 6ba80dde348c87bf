"""The public names of ``stytch_jupyter`` and its one error tree (as httpx's own test pins its)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import stytch_jupyter
from stytch_jupyter import errors

# Exceptions that never reach a caller: control flow inside one module or layer.
# Signals between modules (_-prefixed ones are private). The keyring helper's three never
# leave the session layer: keys.py turns each into a TokenStoreError or a probe's reason.
INTERNAL = {"StoreChanged", "HelpShown", "KeyringTimeout", "HelperUnavailable", "KeyringCallError"}


def test_all_is_every_public_member() -> None:
    # ``stytch`` is made on first use, the two token models imported on first use (the
    # module's __getattr__), so none of them is in vars().
    lazy = {"SessionToken", "SessionTokens"}
    assert all(inspect.isclass(getattr(stytch_jupyter, name)) for name in lazy)
    public = {name for name in vars(stytch_jupyter) if not name.startswith("_")}
    public -= {"annotations", "TYPE_CHECKING", "Any"}  # import machinery, not API
    public |= lazy | {"stytch", "__version__"}
    public -= {name for name in public if inspect.ismodule(getattr(stytch_jupyter, name, None))}
    assert sorted(stytch_jupyter.__all__) == sorted(public)
    assert len(set(stytch_jupyter.__all__)) == len(stytch_jupyter.__all__)


def _package_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in the package, the emulator aside (it stands alone)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(stytch_jupyter.__path__, "stytch_jupyter."):
        if info.name.startswith("stytch_jupyter.emulator") or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[name] = value
    return found


def test_every_error_is_exported_at_the_top_level() -> None:
    exceptions = _package_exceptions()
    public = {
        name: cls
        for name, cls in exceptions.items()
        if name not in INTERNAL and not name.startswith("_")
    }
    assert "MagicLinkError" in public and "TokenStoreError" in public  # the walk found them
    for name, cls in public.items():
        assert getattr(stytch_jupyter, name, None) is cls, f"{name} is not stytch_jupyter.{name}"
        assert name in stytch_jupyter.__all__ and name in errors.__all__
        assert issubclass(cls, stytch_jupyter.StytchError), f"{name} is not a StytchError"


def test_old_import_paths_still_work() -> None:
    from stytch_jupyter.api.errors import StytchAPIError
    from stytch_jupyter.ipython.magic_link_listener import MagicLinkError
    from stytch_jupyter.ipython.magics import StytchCommandError
    from stytch_jupyter.session import ConfigurationError, NotSignedInError
    from stytch_jupyter.session.errors import SessionClosedError
    from stytch_jupyter.session.keys import TokenStoreError

    assert {
        StytchAPIError,
        MagicLinkError,
        StytchCommandError,
        ConfigurationError,
        NotSignedInError,
        SessionClosedError,
        TokenStoreError,
    } <= {getattr(stytch_jupyter, name) for name in stytch_jupyter.__all__ if name != "stytch"}


def test_the_drawn_tree_is_the_real_one() -> None:
    """The docstring of ``errors.py`` draws the tree; every line names a class and its parent."""
    drawn: dict[str, str | None] = {}
    parents: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^\s{4}((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+Error)\s", line)
        if not match:
            continue
        depth = len(match.group(1)) // 4 + (1 if "──" in line else 0)
        del parents[depth:]
        drawn[match.group(2)] = parents[-1] if parents else None
        parents.append(match.group(2))
    assert drawn["StytchError"] is None
    assert set(drawn) == set(errors.__all__)
    for name, parent in drawn.items():
        cls = getattr(errors, name)
        ours = [base.__name__ for base in cls.__bases__ if base.__name__ in drawn]
        assert ours == ([parent] if parent else []), f"{name} is drawn under {parent}"


def test_magic_link_error_is_a_stytch_error_and_a_value_error() -> None:
    from stytch_jupyter.ipython.magic_link_listener import token_from_link

    try:
        token_from_link("https://example.com/no-token-here")
    except stytch_jupyter.StytchError as exc:
        assert isinstance(exc, ValueError) and type(exc) is stytch_jupyter.MagicLinkError
    else:
        raise AssertionError("a link without a token was accepted")
