"""A separate process holding a SessionManager on a shared data_dir (a stand-in for a kernel).

It prints one JSON line per status change: {"status", "session_id", "t"} and exits on stdin EOF.
Usage: session_worker.py API_URL PUBLIC_TOKEN DATA_DIR [HEARTBEAT_INTERVAL [VERTICAL]]
(VERTICAL: Stytch.vertical, "auto" by default; a B2B session reports its member_session_id.)
"""

from __future__ import annotations

import json
import sys
import time

from stytch_jupyter.config import Stytch
from stytch_jupyter.session import SessionManager


def _session_id(session: object) -> str | None:
    for name in ("session_id", "member_session_id"):  # consumer, B2B
        value = getattr(session, name, None)
        if isinstance(value, str):
            return value
    return None


def main() -> None:
    api_url, public_token, data_dir = sys.argv[1:4]
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 180.0
    vertical = sys.argv[5] if len(sys.argv) > 5 else "auto"
    config = Stytch(
        api_url=api_url,
        public_token=public_token,
        data_dir=data_dir,
        token_store="file",
        heartbeat_interval=interval,
        vertical=vertical,
    )
    manager = SessionManager(config)

    def report(change: object = None) -> None:
        session = manager.session
        line = {
            "status": manager.status,
            "session_id": _session_id(session),
            "t": time.time(),
        }
        print(json.dumps(line), flush=True)

    manager.observe(report, names="status")
    manager.observe(report, names="session")
    manager.start()
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.read()  # until the test closes our stdin
    manager.close()


if __name__ == "__main__":
    main()
