"""The cache every page of a run shares: one build per key, bounded, and a failed build is not kept."""
import threading

import pytest

from gan_core.runs import SharedCache


def test_one_build_per_key_however_many_pages_ask_at_once():
    cache, started = SharedCache(maxsize=4), threading.Event()
    release = threading.Event()

    def slow_build():
        started.set()
        release.wait(5)
        return object()

    results = []
    pages = [threading.Thread(target=lambda: results.append(cache.get(("run", 1), slow_build))) for _ in range(8)]
    for p in pages:
        p.start()
    assert started.wait(5)
    release.set()
    for p in pages:
        p.join(5)
    assert len(results) == 8 and len({id(r) for r in results}) == 1 and cache.builds == 1


def test_the_cache_is_bounded_least_recently_used_first():
    cache = SharedCache(maxsize=2)
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    cache.get("a", lambda: -1)               # a is used again: b is now the oldest
    cache.get("c", lambda: 3)
    assert cache.get("a", lambda: -1) == 1 and cache.get("b", lambda: 20) == 20 and cache.builds == 4


def test_a_failed_build_is_tried_again():
    cache = SharedCache()

    def fails():
        raise RuntimeError("busy")
    with pytest.raises(RuntimeError):
        cache.get("k", fails)
    assert cache.get("k", lambda: 7) == 7
