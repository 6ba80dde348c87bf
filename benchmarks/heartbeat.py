"""What the heartbeat costs, and how fast a sign-out reaches other kernels.

- CPU time per beat (process time of this process; the emulator runs in another one),
  against one bare httpx request of the same kind as the baseline.
- Idle CPU between beats of a process holding a live session (the store watch included).
- Propagation latency of a sign-out across 8 processes sharing one data_dir: median and p95.

Run: .venv/bin/python benchmarks/heartbeat.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _emulator_process import emulator_process  # benchmarks/ is on sys.path when run

from stytch_jupyter.config import Stytch
from stytch_jupyter.emulator import EmulatorControl
from stytch_jupyter.emulator.defaults import DEFAULT_PUBLIC_TOKEN
from stytch_jupyter.session import SessionManager

WORKER = Path(__file__).parent.parent / "tests" / "helpers" / "session_worker.py"
PASSWORD = "benchmark password 1"


def manager_for(api_url: str, data_dir: str, interval: float) -> SessionManager:
    config = Stytch(
        api_url=api_url,
        public_token=DEFAULT_PUBLIC_TOKEN,
        data_dir=data_dir,
        token_store="file",
        heartbeat_interval=interval,
    )
    manager = SessionManager(config)
    manager.start()
    return manager


def cpu_per_beat(api_url: str, data_dir: str, beats: int = 200) -> float:
    manager = manager_for(api_url, data_dir, interval=0.01)
    manager.passwords.authenticate("bench@example.com", PASSWORD)
    counted = threading.Semaphore(0)
    manager.observe(lambda change: counted.release(), names="last_validated_at")
    for _ in range(10):  # warm up
        counted.acquire()
    start = time.process_time()
    for _ in range(beats):
        counted.acquire()
    per_beat = (time.process_time() - start) / beats
    manager.close()
    return per_beat


def cpu_per_bare_request(api_url: str, token: str, requests: int = 200) -> float:
    async def run() -> float:
        async with httpx.AsyncClient(auth=(DEFAULT_PUBLIC_TOKEN, token)) as client:
            url = f"{api_url}/sdk/v1/sessions/authenticate"
            for _ in range(10):
                await client.post(url, json={})
            start = time.process_time()
            for _ in range(requests):
                (await client.post(url, json={})).json()
            return (time.process_time() - start) / requests

    return asyncio.run(run())


def idle_cpu(api_url: str, data_dir: str, seconds: float = 10.0) -> float:
    manager = manager_for(api_url, data_dir, interval=180)
    manager.passwords.authenticate("bench@example.com", PASSWORD)
    time.sleep(1)
    start = time.process_time()
    time.sleep(seconds)
    used = time.process_time() - start
    manager.close()
    return used / seconds


def sign_out_propagation(api_url: str, rounds: int = 5, processes: int = 8) -> list[float]:
    data_dir = tempfile.mkdtemp(prefix="stytch-bench-")
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), api_url, DEFAULT_PUBLIC_TOKEN, data_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]

    def wait_all(status: str) -> list[float]:
        times = []
        for worker in workers:
            assert worker.stdout is not None
            for line in worker.stdout:
                event = json.loads(line)
                if event.get("status") == status:
                    times.append(event["t"])
                    break
        return times

    latencies: list[float] = []
    manager = manager_for(api_url, data_dir, interval=180)
    try:
        for _ in range(rounds):
            manager.passwords.authenticate("bench@example.com", PASSWORD)
            wait_all("signed_in")
            started = time.time()
            manager.sessions.revoke()
            latencies.extend(t - started for t in wait_all("signed_out"))
    finally:
        manager.close()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.close()
            worker.wait(10)
    return latencies


def main() -> None:
    with emulator_process() as api_url:
        EmulatorControl(api_url).create_user("bench@example.com", password=PASSWORD)
        with tempfile.TemporaryDirectory() as data_dir:
            beat = cpu_per_beat(api_url, data_dir)
            signer = manager_for(api_url, data_dir, interval=180)
            signer.passwords.authenticate("bench@example.com", PASSWORD)
            assert signer.session_token is not None
            bare = cpu_per_bare_request(api_url, signer.session_token.value)
            signer.close()
            idle = idle_cpu(api_url, data_dir)
        latencies = sorted(sign_out_propagation(api_url))

    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"CPU per beat:            {beat * 1e3:7.2f} ms")
    print(f"CPU per bare request:    {bare * 1e3:7.2f} ms   (httpx POST + JSON, the baseline)")
    print(f"beat / bare request:     {beat / bare:7.2f}x")
    print(f"idle CPU between beats:  {idle * 1e3:7.3f} ms per second ({idle * 100:.3f}% of a core)")
    print(
        f"sign-out across 8 procs: median {statistics.median(latencies) * 1e3:.0f} ms, "
        f"p95 {p95 * 1e3:.0f} ms  ({len(latencies)} samples)"
    )


if __name__ == "__main__":
    main()
