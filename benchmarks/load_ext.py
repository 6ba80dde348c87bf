"""How long ``%load_ext stytch_jupyter`` holds the kernel, and how soon a stored session is back.

Every sample runs in a fresh ``ipython`` process, so no import is ever cached; samples of the
two sides are interleaved so that neither always runs on a warmer or busier machine. Samples run
in a kernel's process: the sample first imports ``ipykernel.ipkernel`` (untimed), as a kernel
has it imported, and with it what a kernel has loaded before any cell runs (``jupyter_core``
brings ``platformdirs``, ``tempfile`` and ``random``, which ``%load_ext stytch_jupyter`` pays
for in a terminal shell); ``%load_ext`` is measured in a bare terminal shell too, held to the
same target.

1. Main-thread time of ``%load_ext stytch_jupyter`` against ``%load_ext autoreload``
   (median of N each). Target: ratio <= 1.2. Also shown: ``import stytch_jupyter.ipython.extension``
   on its own.
2. Against a running ``Emulator()`` and a session stored (signed in once, file token store in a
   temp data dir): the time from ``%load_ext`` to ``stytch.status == "signed_in"``, against one
   bare ``sessions/authenticate`` request with httpx (``import httpx`` included: a fresh kernel
   pays it too). Target: ratio <= 1.5. The emulator is plain http, yet both sides build the
   TLS context an https URL needs: ``httpx.post`` on its way (httpx builds it for every
   client), the session on its store worker while it imports httpx (for an http URL too, so
   the loopback figure is what an https one costs, bar the handshake both sides would pay).
   With ``Stytch.vertical = "auto"`` (the default) the session also asks the project's
   bootstrap, a second request the bare side does not make.

    .venv/bin/python benchmarks/load_ext.py [--runs 15]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import stytch_jupyter
from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import Emulator
from stytch_jupyter.session import SessionManager

SYNC_BASELINE = "bare sessions/authenticate (import httpx, httpx.post)"
ASYNC_BASELINE = "the same with httpx.AsyncClient in asyncio.run"
REHYDRATED = "%load_ext to signed_in (stored session)"
LOAD_TARGET = 1.2
REHYDRATE_TARGET = 1.5
EMAIL = "bench@example.com"
IPYTHON = str(Path(sys.executable).with_name("ipython"))

# What a kernel's process has imported before its first cell (untimed).
KERNEL_PRELUDE = "import ipykernel.ipkernel\n"

LOAD_EXT = """
import json, time
ip = get_ipython()
start = time.perf_counter()
ip.run_line_magic("load_ext", {name!r})
elapsed = time.perf_counter() - start
print("RESULT", json.dumps(elapsed))
"""

IMPORT = """
import json, time
start = time.perf_counter()
import stytch_jupyter.ipython.extension
print("RESULT", json.dumps(time.perf_counter() - start))
"""

REHYDRATE = """
import json, threading, time
ip = get_ipython()
ip.config.Stytch.token_store = "file"
start = time.perf_counter()
ip.run_line_magic("load_ext", "stytch_jupyter")
returned = time.perf_counter() - start
stytch = ip.user_ns["stytch"]
signed_in = threading.Event()
stytch.observe(lambda change: change["new"] == "signed_in" and signed_in.set(), names="status")
if stytch.status != "signed_in":
    signed_in.wait(30)
elapsed = time.perf_counter() - start
assert stytch.status == "signed_in", stytch.status
print("RESULT", json.dumps([returned, elapsed]))
"""

BARE_REQUEST = """
import json, time
start = time.perf_counter()
import httpx
response = httpx.post(
    {url!r}, auth=({public_token!r}, {session_token!r}), json={{}}, timeout=10
)
response.raise_for_status()
assert response.json()["data"]["session"]["session_id"]
print("RESULT", json.dumps(time.perf_counter() - start))
"""


BARE_ASYNC_REQUEST = """
import asyncio, json, time
start = time.perf_counter()
import httpx

async def main():
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            {url!r}, auth=({public_token!r}, {session_token!r}), json={{}}
        )
    response.raise_for_status()
    assert response.json()["data"]["session"]["session_id"]

asyncio.run(main())
print("RESULT", json.dumps(time.perf_counter() - start))
"""


def in_fresh_ipython(code: str, env: dict[str, str], *, kernel: bool = True) -> object:
    """Run ``code`` in a fresh ``ipython``, as in a kernel's process unless ``kernel=False``."""
    if kernel:
        code = KERNEL_PRELUDE + code
    done = subprocess.run(
        [IPYTHON, "--quick", "--no-banner", "--HistoryManager.enabled=False", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"the child failed:\n{done.stdout}\n{done.stderr}")


def interleave(runs: int, samplers: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in samplers}
    names = list(samplers)
    for sample in samplers.values():  # warm-up: bytecode caches, the OS's file cache
        sample()
    for i in range(runs):
        rotated = names[i % len(names) :] + names[: i % len(names)]
        for name in rotated:
            times[name].append(samplers[name]())
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def report(title: str, times: dict[str, list[float]], ours: str, base: str, target: float) -> bool:
    """Print the medians and the ratio; whether it is within ``target``."""
    print(f"\n{title}")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        spread = f"(min {ms(min(values)).strip()}, max {ms(max(values)).strip()})"
        print(f"  {name:<52} median {ms(medians[name])}  {spread}")
    ratio = medians[ours] / medians[base]
    verdict = "OK" if ratio <= target else "OVER TARGET"
    print(f"  ratio {ours} / {base}: {ratio:.2f} (target <= {target:g}) {verdict}")
    return ratio <= target


def base_env(data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STYTCH_")}
    env["STYTCH_JUPYTER_DATA_DIR"] = data_dir
    env["IPYTHONDIR"] = str(Path(data_dir) / "ipython")
    # Imports as an installed package does them: from bytecode. (Some shells set
    # PYTHONDONTWRITEBYTECODE, which would compile this project from source in every child
    # while IPython's own extensions load from their installed .pyc.) The cache goes to a
    # temp dir, filled by the warm-up round.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(data_dir) / "pycache")
    return env


def store_a_session(emu: Emulator, data_dir: str) -> str:
    """Sign in once, as a notebook would, leaving the tokens in the file store."""
    config = Stytch(
        public_token=emu.public_token,
        api_url=emu.api_url,
        data_dir=data_dir,
        token_store="file",
    )
    with SessionManager(config) as manager:
        method_id = manager.otps.email.login_or_create(EMAIL)
        response = manager.otps.authenticate(
            emu.last_otp(EMAIL)[1], method_id, session_duration_minutes=24 * 60
        )
    return response.session_token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    # Measure what a user's install runs: compiled modules. Where PYTHONDONTWRITEBYTECODE is set
    # (some CI images), every import would otherwise compile our freshly edited sources while
    # IPython's own come compiled from the wheel.
    compileall.compile_dir(Path(stytch_jupyter.__file__).parent, quiet=1)
    ok = True

    with tempfile.TemporaryDirectory(prefix="stytch-bench-") as data_dir:
        # 1. %load_ext, nothing stored: what every kernel start pays.
        env = base_env(data_dir)
        for kernel, where in ((True, "a kernel's process"), (False, "terminal ipython")):

            def load(name: str, kernel: bool = kernel) -> float:
                return float(in_fresh_ipython(LOAD_EXT.format(name=name), env, kernel=kernel))  # type: ignore[arg-type]

            times = interleave(
                runs,
                {
                    "%load_ext autoreload": lambda: load("autoreload"),
                    "%load_ext stytch_jupyter": lambda: load("stytch_jupyter"),
                    "import stytch_jupyter.ipython.extension": lambda kernel=kernel: float(
                        in_fresh_ipython(IMPORT, env, kernel=kernel)  # type: ignore[arg-type]
                    ),
                },
            )
            ok &= report(
                f"main-thread time, fresh ipython processes ({where}), {runs} runs each",
                times,
                "%load_ext stytch_jupyter",
                "%load_ext autoreload",
                LOAD_TARGET,
            )

        # 2. A stored session, against the emulator on loopback.
        with Emulator() as emu:
            session_token = store_a_session(emu, data_dir)
            env = base_env(data_dir)
            env["STYTCH_API_URL"] = emu.api_url
            env["STYTCH_PUBLIC_TOKEN"] = emu.public_token
            request = {
                "url": f"{emu.api_url}/sdk/v1/sessions/authenticate",
                "public_token": emu.public_token,
                "session_token": session_token,
            }
            bare = BARE_REQUEST.format(**request)
            bare_async = BARE_ASYNC_REQUEST.format(**request)
            returned: list[float] = []

            def rehydrate() -> float:
                load_returned, signed_in = in_fresh_ipython(REHYDRATE, env)  # type: ignore[misc]
                returned.append(load_returned)
                return float(signed_in)

            times = interleave(
                runs,
                {
                    SYNC_BASELINE: lambda: float(
                        in_fresh_ipython(bare, env)  # type: ignore[arg-type]
                    ),
                    ASYNC_BASELINE: lambda: float(
                        in_fresh_ipython(bare_async, env)  # type: ignore[arg-type]
                    ),
                    REHYDRATED: rehydrate,
                },
            )
            times["  of which %load_ext itself returned after"] = returned
            ok &= report(
                f"rehydration, fresh ipython processes (a kernel's process), {runs} runs each",
                times,
                REHYDRATED,
                SYNC_BASELINE,
                REHYDRATE_TARGET,
            )
            # For reference, the same request through httpx's own async client (anyio's backend
            # comes in with it): the way the session thread made it before it had its own
            # asyncio transport (api/transport.py).
            ratio = statistics.median(times[REHYDRATED]) / statistics.median(times[ASYNC_BASELINE])
            print(f"  ratio against the async request: {ratio:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
