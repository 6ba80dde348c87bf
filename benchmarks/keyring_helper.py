"""What asking the keyring through the helper process costs, against asking it in-process.

Every sample runs in a fresh Python process with keyrings.alt's plaintext keyring (selected with
``PYTHON_KEYRING_BACKEND``, its file in a temp folder) holding a token-store key already; the
two sides are interleaved. For each side:

- cold: from nothing to the key read, as a kernel's first store use pays it: the probe and one
  read (through the helper: its start included; in-process: ``import keyring`` and keyring's
  resolution of the backend included, which the helper pays instead);
- warm: one more read of the key (median of 50 in that process): the helper running, against a
  call on a thread with a deadline (what in-process calls are).

No target: the figures are for the record (the key is read once per process and cached).

    .venv/bin/python benchmarks/keyring_helper.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SAMPLE = """
import json, statistics, time
start = time.perf_counter()
if {in_process!r}:
    import keyring
    keyring.get_keyring()  # this process holds a backend: calls stay in this process
from stytch_jupyter.session.keys import KeyringKeyProvider, probe_keyring
probe = probe_keyring()
assert probe, probe.reason
provider = KeyringKeyProvider(username="bench", backend=probe.backend)
assert provider.existing_key() is not None
cold = time.perf_counter() - start
warm = []
for _ in range(50):
    provider.invalidate()
    start = time.perf_counter()
    provider.existing_key()
    warm.append(time.perf_counter() - start)
print("RESULT", json.dumps([cold, statistics.median(warm), type(probe.backend).__name__]))
"""

SIDES = {"in-process": True, "helper process": False}


def sample(in_process: bool, env: dict[str, str]) -> tuple[float, float, str]:
    done = subprocess.run(
        [sys.executable, "-c", SAMPLE.format(in_process=in_process)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            cold, warm, kind = json.loads(line[len("RESULT ") :])
            return float(cold), float(warm), str(kind)
    raise RuntimeError(f"the sample failed:\n{done.stdout}\n{done.stderr}")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="stytch-bench-keyring-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STYTCH_")}
        env.update(
            PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
            XDG_DATA_HOME=str(Path(home) / "xdg"),
        )
        setup = (
            "from stytch_jupyter.session.keys import KeyringKeyProvider, probe_keyring\n"
            "KeyringKeyProvider(username='bench', backend=probe_keyring().backend)"
            ".get_or_create_key()"
        )
        subprocess.run([sys.executable, "-c", setup], env=env, check=True, timeout=120)
        cold: dict[str, list[float]] = {name: [] for name in SIDES}
        warm: dict[str, list[float]] = {name: [] for name in SIDES}
        kinds: dict[str, set[str]] = {name: set() for name in SIDES}
        for in_process in SIDES.values():  # warm-up: bytecode, the OS's file cache
            sample(in_process, env)
        names = list(SIDES)
        for i in range(runs):
            for name in names[i % 2 :] + names[: i % 2]:
                c, w, kind = sample(SIDES[name], env)
                cold[name].append(c)
                warm[name].append(w)
                kinds[name].add(kind)
    for title, times in (("cold: probe and first read", cold), ("warm: one more read", warm)):
        print(f"\n{title} (median of {runs})")
        for name, values in times.items():
            print(f"  {name:<16} {ms(statistics.median(values))}  (backend object {kinds[name]})")
        ratio = statistics.median(times["helper process"]) / statistics.median(times["in-process"])
        print(f"  ratio helper / in-process: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
