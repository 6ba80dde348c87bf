"""``StoreSync`` on its own, over real stores: conditional writes, the poll, failing stores.

Two ``StoreSync`` objects over one encrypted file play two kernels. A store that fails is a
real one made unusable (its key file's folder is a file), not a fake.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stytch_jupyter.api.models import SessionTokens
from stytch_jupyter.config import Stytch
from stytch_jupyter.session.keys import FileKeyProvider, TokenStoreError
from stytch_jupyter.session.store import (
    EncryptedFileStore,
    MemoryTokenStore,
    StoreChanged,
    TokenStore,
    store_path,
)
from stytch_jupyter.session.store_sync import STORE_POLL_SECONDS, StoreSync

PUBLIC_TOKEN = "public-token-test-5ca1ab1e-0000-0000-0000-000000000001"
MINE = SessionTokens(opaque="opaque-token-mine-" + "m" * 30, jwt="a.b.mine")
THEIRS = SessionTokens(opaque="opaque-token-theirs-" + "t" * 30, jwt="a.b.theirs")
MINE_REFRESHED = SessionTokens(opaque=MINE.opaque, jwt="a.b.mine-refreshed")


MADE: list[StoreSync] = []


@pytest.fixture(autouse=True)
def close_every_sync() -> Iterator[None]:
    """Each StoreSync has a worker thread: none may outlive its test."""
    yield
    while MADE:
        MADE.pop().close()


class Kernel:
    """One process's StoreSync, with what it heard."""

    def __init__(self, store: TokenStore | None, config: Stytch | None = None) -> None:
        self.changes: list[SessionTokens | None] = []
        self.errors: list[TokenStoreError] = []
        self.sync = StoreSync(
            config or Stytch(public_token=PUBLIC_TOKEN, token_store="memory"),
            store=store,
            on_change=self.changes.append,
            on_error=self.errors.append,
        )
        MADE.append(self.sync)


def file_store(data_dir: Path) -> EncryptedFileStore:
    return EncryptedFileStore(
        store_path(data_dir, PUBLIC_TOKEN), FileKeyProvider(data_dir / "key"), PUBLIC_TOKEN
    )


@pytest.fixture(params=["memory", "file"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> TokenStore:
    """One store both kernels use: in memory (one process) or the encrypted file."""
    return MemoryTokenStore() if request.param == "memory" else file_store(tmp_path / "data")


# ---- conditional writes ------------------------------------------------------------------------


def test_a_conditional_write_over_another_session_changes_nothing(shared) -> None:
    a, b = Kernel(shared), Kernel(shared)
    assert a.sync.write(MINE)
    assert b.sync.write(THEIRS)  # another kernel signs in
    seen = a.sync.signature
    assert a.sync.write(MINE_REFRESHED, replacing=MINE.opaque)  # skipped, not a failure
    assert shared.load() == THEIRS
    assert a.sync.signature == seen  # the skipped write is not taken for this kernel's own
    assert a.sync.write(None, replacing=MINE.opaque)  # a stale sign-out is skipped too
    assert shared.load() == THEIRS
    assert a.errors == [] and b.errors == []


def test_a_conditional_write_over_its_own_session_lands(shared) -> None:
    a = Kernel(shared)
    a.sync.write(MINE)
    assert a.sync.write(MINE_REFRESHED, replacing=MINE.opaque)
    assert shared.load() == MINE_REFRESHED
    assert a.sync.signature == shared.signature()
    assert a.sync.write(None, replacing=MINE.opaque)
    assert shared.load() is None and a.sync.signature is None


def test_a_conditional_write_to_an_empty_store_is_skipped(shared) -> None:
    a = Kernel(shared)
    assert a.sync.write(MINE_REFRESHED, replacing=MINE.opaque)
    assert shared.load() is None
    assert a.sync.write(None, replacing=MINE.opaque)
    assert shared.load() is None


def test_an_unconditional_write_replaces_whatever_is_stored(shared) -> None:
    a, b = Kernel(shared), Kernel(shared)
    b.sync.write(THEIRS)
    assert a.sync.write(MINE)  # an explicit sign-in always wins
    assert shared.load() == MINE
    assert a.sync.write(None)
    assert shared.load() is None


@pytest.mark.parametrize("method", ["save", "clear"])
def test_the_stores_raise_store_changed_for_another_session(shared, method) -> None:
    shared.save(THEIRS)
    with pytest.raises(StoreChanged):
        if method == "save":
            shared.save(MINE_REFRESHED, replacing=MINE.opaque)
        else:
            shared.clear(replacing=MINE.opaque)
    assert shared.load() == THEIRS


# ---- hearing of other kernels -------------------------------------------------------------------


def test_the_poll_tells_of_each_change_once(shared) -> None:
    a, b = Kernel(shared), Kernel(shared)
    assert a.sync.load() is None
    a.sync.poll()
    assert a.changes == []  # nothing happened
    b.sync.write(THEIRS)
    a.sync.poll()
    a.sync.poll()
    assert a.changes == [THEIRS]
    b.sync.write(None)
    a.sync.poll()
    assert a.changes == [THEIRS, None]


def test_the_poll_does_not_report_this_kernels_own_writes(shared) -> None:
    a = Kernel(shared)
    a.sync.load()
    a.sync.write(MINE)
    a.sync.write(MINE_REFRESHED, replacing=MINE.opaque)
    a.sync.write(None, replacing=MINE.opaque)
    a.sync.poll()
    assert a.changes == []


def test_load_takes_the_signature_before_the_read(tmp_path: Path) -> None:
    store = file_store(tmp_path / "data")
    store.save(MINE)
    a = Kernel(store)
    real_load = store.load

    def load_then_another_kernel_writes() -> SessionTokens | None:
        found = real_load()
        store.save(THEIRS)  # lands after the read, before the bookkeeping
        return found

    store.load = load_then_another_kernel_writes  # type: ignore[method-assign]
    assert a.sync.load() == MINE
    store.load = real_load  # type: ignore[method-assign]
    a.sync.poll()
    assert a.changes == [THEIRS]


def test_no_store_opened_yet_means_nothing_to_poll() -> None:
    a = Kernel(None, Stytch(public_token="", token_store="memory"))
    a.sync.poll()
    assert a.sync.store is None and a.changes == []
    assert a.sync.open() is None  # no public token: no store
    assert a.sync.write(MINE)  # nothing to write to is not a failure
    assert a.sync.load() is None


def test_polling_runs_on_the_loop_at_its_interval_until_stopped(shared) -> None:
    a, b = Kernel(shared), Kernel(shared)
    a.sync.poll_interval = 0.01
    assert STORE_POLL_SECONDS == 0.5

    async def main() -> None:
        a.sync.load()
        a.sync.start_polling()
        a.sync.start_polling()  # one task, not two
        b.sync.write(THEIRS)
        while not a.changes:
            await asyncio.sleep(0.01)
        a.sync.stop_polling()
        b.sync.write(None)
        await asyncio.sleep(0.05)  # five intervals: a running poll would have seen it

    asyncio.run(main())
    assert a.changes == [THEIRS]


def test_a_poll_that_raises_does_not_stop_polling(shared, caplog) -> None:
    a, b = Kernel(shared), Kernel(shared)
    a.sync.poll_interval = 0.01
    raised: list[bool] = []

    def on_change(tokens: SessionTokens | None) -> None:
        if not raised:
            raised.append(True)
            raise RuntimeError("a bug in the manager")
        a.changes.append(tokens)

    a.sync = StoreSync(
        Stytch(public_token=PUBLIC_TOKEN),
        store=shared,
        on_change=on_change,
        on_error=a.errors.append,
        poll_interval=0.01,
    )
    MADE.append(a.sync)

    async def main() -> None:
        a.sync.start_polling()
        b.sync.write(THEIRS)
        while not raised:
            await asyncio.sleep(0.01)
        b.sync.write(MINE)
        while not a.changes:
            await asyncio.sleep(0.01)
        a.sync.stop_polling()

    asyncio.run(main())
    assert a.changes == [MINE]
    (record,) = [r for r in caplog.records if "reading the token store failed" in r.message]
    assert record.name == "stytch_jupyter"


# ---- choosing and failing stores ----------------------------------------------------------------


def test_the_configured_store_is_opened_on_first_use_and_reopened_on_request(
    tmp_path: Path,
) -> None:
    config = Stytch(public_token=PUBLIC_TOKEN, token_store="file", data_dir=str(tmp_path / "d"))
    a = Kernel(None, config)
    assert a.sync.configurable and a.sync.store is None
    first = a.sync.open()
    assert isinstance(first, EncryptedFileStore) and a.sync.store is first
    assert a.sync.open() is first
    config.token_store = "memory"
    a.sync.reopen()
    assert isinstance(a.sync.open(), MemoryTokenStore)


def test_a_store_handed_in_is_kept_across_reopen() -> None:
    given = MemoryTokenStore()
    a = Kernel(given)
    assert not a.sync.configurable
    a.sync.reopen()
    assert a.sync.open() is given


def test_a_bad_configured_store_is_reported_not_raised() -> None:
    a = Kernel(None, Stytch(public_token="   ", token_store="file"))
    assert a.sync.open() is None
    assert len(a.errors) == 1 and "public token" in str(a.errors[0])
    assert a.sync.load() is None and len(a.errors) == 2  # each use says so again


def test_a_failing_store_is_reported_and_the_write_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    store = EncryptedFileStore(
        store_path(blocker, PUBLIC_TOKEN), FileKeyProvider(blocker / "key"), PUBLIC_TOKEN
    )
    a = Kernel(store)
    assert a.sync.write(MINE) is False
    assert len(a.errors) == 1 and isinstance(a.errors[0], TokenStoreError)
    assert a.sync.write(None) is True  # clearing a store that never held anything is fine
    assert a.sync.load() is None


def test_the_sessions_folder_is_tightened_to_0700_on_save(tmp_path: Path) -> None:
    store = file_store(tmp_path / "data")
    folder = store.path.parent
    folder.mkdir(parents=True)
    os.chmod(folder, 0o755)  # something loosened it
    Kernel(store).sync.write(MINE)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    os.chmod(folder, 0o700)
    Kernel(store).sync.write(THEIRS)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_what_load_read_is_not_reported_again_by_the_poll(shared) -> None:
    shared.save(MINE)
    a = Kernel(shared)
    assert a.sync.load() == MINE
    assert a.sync.signature == shared.signature()
    a.sync.poll()
    assert a.changes == []


def test_a_skipped_write_says_why_at_debug_level(shared, caplog) -> None:
    shared.save(THEIRS)
    with caplog.at_level(logging.DEBUG, logger="stytch_jupyter"):
        Kernel(shared).sync.write(None, replacing=MINE.opaque)
    (record,) = caplog.records
    assert record.name == "stytch_jupyter" and "moved on in another process" in record.message


def test_polling_restarted_right_after_a_stop_polls_again(shared) -> None:
    a, b = Kernel(shared), Kernel(shared)
    a.sync.poll_interval = 0.01

    async def main() -> None:
        a.sync.start_polling()
        assert [t.get_name() for t in asyncio.all_tasks()].count("stytch-store-watch") == 1
        a.sync.stop_polling()
        a.sync.start_polling()  # before the cancelled task has even ended
        b.sync.write(THEIRS)
        await asyncio.wait_for(_until(lambda: bool(a.changes)), timeout=5)
        a.sync.stop_polling()

    asyncio.run(main())
    assert a.changes == [THEIRS]


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


# ---- the same, off the loop: the *_async twins the manager uses (the store worker thread) -----


def test_async_conditional_writes_skip_another_session_and_land_over_their_own(shared) -> None:
    a, b = Kernel(shared), Kernel(shared)

    async def main() -> None:
        assert await a.sync.write_async(MINE)
        assert a.sync.signature == shared.signature()
        assert await a.sync.write_async(MINE_REFRESHED, replacing=MINE.opaque)
        assert shared.load() == MINE_REFRESHED
        b.sync.write(THEIRS)
        seen = a.sync.signature
        assert await a.sync.write_async(None, replacing=MINE.opaque)  # skipped, not failed
        assert shared.load() == THEIRS and a.sync.signature == seen
        assert await a.sync.write_async(None)
        assert shared.load() is None and a.sync.signature is None

    asyncio.run(main())
    assert a.errors == []
    assert [t.name for t in a.sync.threads] == ["stytch-store"]
    a.sync.close()
    assert a.sync.threads == []


def test_async_load_and_poll_report_each_change_once(shared) -> None:
    shared.save(MINE)
    a, b = Kernel(shared), Kernel(shared)

    async def main() -> None:
        assert await a.sync.load_async() == MINE
        assert a.sync.signature == shared.signature()
        await a.sync.poll_async()
        assert a.changes == []
        b.sync.write(THEIRS)
        await a.sync.poll_async()
        await a.sync.poll_async()
        assert a.changes == [THEIRS]

    asyncio.run(main())


def test_async_open_of_a_bad_store_reports_and_a_failing_write_says_so(tmp_path: Path) -> None:
    a = Kernel(None, Stytch(public_token="   ", token_store="file"))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    broken = EncryptedFileStore(
        store_path(blocker, PUBLIC_TOKEN), FileKeyProvider(blocker / "key"), PUBLIC_TOKEN
    )
    b = Kernel(broken)

    async def main() -> None:
        assert await a.sync.open_async() is None
        assert await a.sync.load_async() is None
        assert await a.sync.write_async(MINE) is False  # the store is failing: say so
        assert await b.sync.write_async(MINE) is False
        assert await b.sync.load_async() is None

    asyncio.run(main())
    assert len(a.errors) == 3 and "public token" in str(a.errors[0])  # one per attempt
    assert a.sync.failing is not None
    assert len(b.errors) == 2 and all(isinstance(e, TokenStoreError) for e in b.errors)


@pytest.mark.parametrize("token_store", ["memory", "file"])
def test_async_write_without_a_public_token_is_no_failure(tmp_path: Path, token_store: str) -> None:
    config = Stytch(public_token="", token_store=token_store, data_dir=str(tmp_path))
    a = Kernel(None, config)
    assert asyncio.run(a.sync.write_async(MINE)) is True
    assert a.errors == [] and a.sync.store is None  # nothing to open, nothing stored


def test_a_public_token_cleared_after_a_failure_writes_nothing_and_fails_nothing() -> None:
    config = Stytch(public_token="   ", token_store="file")
    a = Kernel(None, config)
    assert asyncio.run(a.sync.write_async(MINE)) is False  # a blank token: the store fails
    assert a.sync.failing is not None
    config.public_token = ""  # none at all: nothing is stored, and that is no failure
    assert asyncio.run(a.sync.write_async(MINE)) is True


def test_the_store_worker_runs_what_it_is_given() -> None:
    a = Kernel(MemoryTokenStore())
    assert a.sync.submit_to_worker(lambda: 42).result(5) == 42


def test_the_worker_runs_calls_in_order_and_refuses_work_once_stopped() -> None:
    from stytch_jupyter.session.store_sync import StoreWorker

    worker = StoreWorker()
    order: list[int] = []
    futures = [worker.submit(lambda i=i: order.append(i) or i) for i in range(20)]
    assert [f.result(5) for f in futures] == list(range(20)) and order == list(range(20))
    failing = worker.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(5)
    worker.stop()
    assert worker.thread is not None and not worker.thread.is_alive()
    with pytest.raises(TokenStoreError, match="closed"):
        worker.submit(lambda: 1).result(5)


def test_may_hold_session_reads_a_folder_listing_or_the_open_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    file_config = Stytch(public_token=PUBLIC_TOKEN, token_store="file", data_dir=str(data))
    fresh = Kernel(None, file_config)
    assert fresh.sync.may_hold_session() is False  # nothing stored, no store opened
    file_store(data).save(MINE)
    assert fresh.sync.may_hold_session() is True  # a listing says so, nothing opened
    assert fresh.sync.store is None
    # A memory store holds nothing at start, whatever its data_dir's folder holds.
    memory_config = Stytch(public_token=PUBLIC_TOKEN, token_store="memory", data_dir=str(data))
    assert Kernel(None, memory_config).sync.may_hold_session() is False
    blank = Kernel(None, Stytch(public_token="  ", token_store="file", data_dir=str(data)))
    assert blank.sync.may_hold_session() is False
    given = MemoryTokenStore()
    opened = Kernel(given)
    assert opened.sync.may_hold_session() is False
    given.save(MINE)
    assert opened.sync.may_hold_session() is True


def test_a_failing_store_stays_failing_until_a_write_works(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    store = EncryptedFileStore(
        store_path(blocker, PUBLIC_TOKEN), FileKeyProvider(blocker / "key"), PUBLIC_TOKEN
    )
    a = Kernel(store)
    assert a.sync.write(MINE) is False and a.sync.failing is not None
    blocker.unlink()
    assert a.sync.write(MINE) is True and a.sync.failing is None

    async def main() -> None:
        (tmp_path / "blk").write_text("")
        bad = EncryptedFileStore(
            store_path(tmp_path / "blk", PUBLIC_TOKEN),
            FileKeyProvider(tmp_path / "blk" / "key"),
            PUBLIC_TOKEN,
        )
        c = Kernel(bad)
        assert await c.sync.write_async(MINE) is False and c.sync.failing is not None
        (tmp_path / "blk").unlink()
        assert await c.sync.write_async(MINE) is True and c.sync.failing is None

    asyncio.run(main())


def test_reopen_while_opening_opens_what_the_settings_now_say(tmp_path: Path) -> None:
    config = Stytch(public_token=PUBLIC_TOKEN, token_store="memory", data_dir=str(tmp_path / "d"))
    a = Kernel(None, config)

    async def main() -> None:
        opening = asyncio.ensure_future(a.sync.open_async())
        for _ in range(2):  # the call's task, then the open's own: on the worker now
            await asyncio.sleep(0)
        # Held here until the worker has opened the memory store: its answer waits on the loop.
        a.sync.submit_to_worker(lambda: None).result(5)
        config.token_store = "file"
        a.sync.reopen()
        return await opening

    store = asyncio.run(main())
    assert isinstance(store, EncryptedFileStore) and a.sync.store is store


def test_close_stops_polling_too(shared) -> None:
    a = Kernel(shared)

    async def main() -> None:
        a.sync.start_polling()
        (task,) = [t for t in asyncio.all_tasks() if t.get_name() == "stytch-store-watch"]
        a.sync.close()
        await asyncio.wait([task], timeout=5)
        assert task.cancelled()

    asyncio.run(main())


def test_a_watched_file_is_told_of_each_change_once_after_the_store(shared, tmp_path) -> None:
    a, b = Kernel(shared), Kernel(shared)
    a.sync.poll_interval = 0.01
    side = tmp_path / "side.ist"
    heard: list[tuple[bool, int]] = []  # (exists, store changes heard by then)

    def signature() -> tuple[int, int] | None:
        try:
            info = side.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    async def on_change() -> None:
        heard.append((side.exists(), len(a.changes)))

    side.write_text("there before")  # what is there when the watch begins is no change
    a.sync.watch(signature, on_change)

    async def main() -> None:
        a.sync.load()
        await a.sync.poll_watched()
        assert heard == []
        side.write_text("written elsewhere, longer")
        b.sync.write(THEIRS)  # in one poll: the store is looked at first
        a.sync.start_polling()
        while not heard:
            await asyncio.sleep(0.01)
        side.unlink()
        while len(heard) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # five more polls: nothing new, nothing told
        a.sync.stop_polling()

    asyncio.run(main())
    assert heard == [(True, 1), (False, 1)]
