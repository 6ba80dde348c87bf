"""The TLS context a client verifies Stytch's certificate with, built once per process.

It is the context ``httpx.create_ssl_context(verify=True, trust_env=...)`` builds (a test
compares the two): certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when the
environment is trusted. Building it means parsing some 150 certificates: ~30 ms of OpenSSL
that holds no GIL, so the session thread asks for it early (``prepare``) on a helper thread and
imports the HTTP stack meanwhile; the first https connection takes it when it is ready. No httpx
here: the point is to start before httpx is imported.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import ssl
import threading
from collections.abc import Callable

# How a context gets built off the caller's thread: a worker's submit (the store's worker).
Runner = Callable[[Callable[[], ssl.SSLContext]], "concurrent.futures.Future[ssl.SSLContext]"]

_lock = threading.Lock()
_built: dict[tuple[str, str], concurrent.futures.Future[ssl.SSLContext]] = {}


def _source(trust_env: bool) -> tuple[str, str]:
    # The same precedence as httpx: SSL_CERT_FILE, then SSL_CERT_DIR, then certifi.
    if trust_env and os.environ.get("SSL_CERT_FILE"):
        return "cafile", os.environ["SSL_CERT_FILE"]
    if trust_env and os.environ.get("SSL_CERT_DIR"):
        return "capath", os.environ["SSL_CERT_DIR"]
    return "certifi", ""


def _build(source: tuple[str, str]) -> ssl.SSLContext:
    kind, where = source
    if kind == "cafile":
        return ssl.create_default_context(cafile=where)
    if kind == "capath":
        return ssl.create_default_context(capath=where)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def default_context(trust_env: bool = True) -> ssl.SSLContext:
    """A fresh verifying context, as httpx would build it for these settings."""
    return _build(_source(trust_env))


def prepare(trust_env: bool = True, run: Runner | None = None) -> None:
    """Start building the context for these settings (with ``run``, off this thread), unless
    one is built or under way already."""
    _future(_source(trust_env), run)


async def context_async(trust_env: bool = True) -> ssl.SSLContext:
    """The process's context for these settings: the prepared one (awaited if it is still
    being built), else one built now. A build that failed or never ran is redone here."""
    source = _source(trust_env)
    future = _future(source, None)
    try:
        # Shielded: a caller that gives up must not cancel the build others wait for.
        return await asyncio.shield(asyncio.wrap_future(future))
    except Exception:
        with _lock:
            if _built.get(source) is future:
                del _built[source]
        return _future(source, None).result()


def forget() -> None:
    """Drop the contexts built so far: the next use builds afresh (a CA bundle that changed)."""
    with _lock:
        _built.clear()


def _failed(future: concurrent.futures.Future[ssl.SSLContext]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


def _future(
    source: tuple[str, str], run: Runner | None
) -> concurrent.futures.Future[ssl.SSLContext]:
    with _lock:
        future = _built.get(source)
        if future is not None and not _failed(future):
            return future
        if run is not None:
            future = _built[source] = run(lambda: _build(source))
            return future
        future = _built[source] = concurrent.futures.Future()
    # Built here, outside the lock: another thread asking meanwhile waits on the future.
    try:
        future.set_result(_build(source))
    except BaseException as exc:
        future.set_exception(exc)
    return future
