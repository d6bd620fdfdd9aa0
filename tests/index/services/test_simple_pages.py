"""The simple-API page cache under threads: pages are rendered in workers, read on the loop."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from trustyard.index.services.simple_pages import CacheEntry, Page, PageCache

LIMIT = 64
THREADS = 8
ROUNDS = 5000


@pytest.fixture
def eager_switching() -> Iterator[None]:
    """Switch threads as often as the interpreter allows, so that races show."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _entry(n: int) -> CacheEntry:
    return CacheEntry(Page(body=b"%d" % n, etag=f'"{n}"', serial=n), checked_at=n)


@pytest.mark.usefixtures("eager_switching")
def test_many_threads_adding_reading_and_dropping_pages() -> None:
    """Past the limit every insert drops the oldest page by iterating the dict: unguarded,
    another thread's insert in between raises "dictionary changed size during iteration"."""
    cache = PageCache(limit=LIMIT)
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def hammer(worker: int) -> None:
        start.wait()
        try:
            for n in range(ROUNDS):
                key = (f"project-{worker}-{n}", "text/html", "")
                cache.put(key, _entry(n))
                found = cache.get(key)
                assert found is None or found.page.serial == n
                if n % 7 == 0:
                    cache.discard((f"project-{worker}-{n - 1}", "text/html", ""))
        except BaseException as exc:  # noqa: BLE001 - reported below, with every other thread's
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) == LIMIT


def test_the_oldest_page_is_dropped_first() -> None:
    cache = PageCache(limit=2)
    for n in range(3):
        cache.put((str(n), "text/html", ""), _entry(n))
    assert cache.get(("0", "text/html", "")) is None
    assert [cache.get((str(n), "text/html", "")) for n in (1, 2)] == [_entry(1), _entry(2)]
