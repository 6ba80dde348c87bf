"""The keyring helper process: ``python -m stytch_jupyter.session.keyring_child``.

The kernel asks the OS keyring through this process, so that a keyring call that never returns
can be ended by killing the process: a thread cannot be stopped (``keyring_process`` is the
kernel's side). keyring resolves the backend here as it would in the kernel (the same
interpreter and environment: ``PYTHON_KEYRING_BACKEND``, ``keyringrc.cfg``, entry points).

One JSON object a line on stdin, one answer a line on stdout; first ``{"ready": true}`` once
keyring is imported. Requests: ``probe`` (choose the backend, refuse what would prompt, read
the probe entry), ``get`` and ``set``; answers ``{"ok": true, ...}`` or ``{"ok": false,
"error": "<exception type>"}``, never an exception's text (it could quote a value). The key
travels on the pipe only: nothing here logs it or writes it anywhere else.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """On Linux, be killed when the kernel dies: a hung call must not outlive it either."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl: stdin's end still ends the loop
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        sys.exit(0)


def _private_pipes() -> tuple[IO[str], IO[str]]:
    """The protocol's pipes, moved off fds 0 and 1: a backend that prints or reads (getpass's
    fallback) gets stderr and /dev/null, never the protocol."""
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
    sys.stdout = sys.stderr
    return requests, answers


class Helper:
    """The requests' meaning; the backend the probe chose is used for every later call."""

    def __init__(self) -> None:
        self.backend: Any = None

    def _backend(self, expected: object) -> Any:
        """The backend the probe chose; in a helper started after the probe (the previous one
        was closed), chosen again the same way, and it must be the one the kernel expects."""
        if self.backend is None:
            import keyring

            from .keyring_choice import backend_name, choose_backend

            backend = keyring.get_keyring()
            if isinstance(expected, str):
                backend, _ = choose_backend(backend)
                if backend_name(backend) != expected:
                    raise LookupError("not the backend the probe chose")
            self.backend = backend
        return self.backend

    def answer(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            return {"ok": False, "error": "BadRequest"}
        try:
            return {"ok": True, **self._do(request)}
        except Exception as exc:
            return {"ok": False, "error": type(exc).__name__}

    def _do(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        service, username = str(request.get("service")), str(request.get("username"))
        if op == "probe":
            return self._probe(service, username, set(request.get("skip") or ()))
        if op == "get":
            backend = self._backend(request.get("backend"))
            return {"value": backend.get_password(service, username)}
        if op == "set":
            backend = self._backend(request.get("backend"))
            backend.set_password(service, username, str(request.get("password")))
            return {}
        raise ValueError("unknown op")

    def _probe(self, service: str, username: str, skip: set[str]) -> dict[str, Any]:
        import keyring

        from .keyring_choice import backend_name, choose_backend

        backend, reason = choose_backend(keyring.get_keyring())
        name = backend_name(backend)
        if reason is None and name in skip:
            reason = "the keyring stopped answering earlier in this process"
        if reason is not None:
            return {"usable": False, "reason": reason, "backend": name}
        backend.get_password(service, username)
        self.backend = backend
        return {"usable": True, "reason": "", "backend": name}


def main() -> int:
    _die_with_parent()
    requests, answers = _private_pipes()
    import keyring  # noqa: F401 (imported before "ready": a probe's deadline is keyring's own time)

    helper = Helper()
    answers.write('{"ready": true}\n')
    answers.flush()
    for line in requests:
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        answers.write(json.dumps(helper.answer(request)) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
