"""The bounded in-process cache kept beside Redis (app.lru)."""

from __future__ import annotations

import threading

from app.lru import Lru


def test_the_least_recently_used_goes_first():
    kept: Lru[int] = Lru(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # now "b" is the least recently used
    kept.put("c", 3)
    assert kept.get("b") is None
    assert (kept.get("a"), kept.get("c"), len(kept)) == (1, 3, 2)


def test_a_value_older_than_its_time_to_live_is_a_miss(monkeypatch):
    from app import lru

    now = [1000.0]
    monkeypatch.setattr(lru.time, "monotonic", lambda: now[0])
    kept: Lru[str] = Lru(8, ttl_s=30.0)
    kept.put("token", "caller")
    now[0] += 29.0
    assert kept.get("token") == "caller"
    now[0] += 2.0
    assert kept.get("token") is None
    assert len(kept) == 0  # dropped, not kept as garbage


def test_threads_never_push_it_past_its_size():
    kept: Lru[int] = Lru(50)

    def fill(k: int) -> None:
        for i in range(2000):
            kept.put((k, i), i)
            kept.get((k, i - 1))

    threads = [threading.Thread(target=fill, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(kept) == 50
