"""Young garbage is collected once a response is sent, not in the middle of the next request."""

from __future__ import annotations

import gc

from app import gc_between


def _collections() -> tuple[list[int], object]:
    """Start counting collections, from an empty young generation."""
    gc.collect()
    started: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(seen)
    return started, seen


def test_a_grown_young_generation_is_collected_after_the_response_is_sent(client):
    started, seen = _collections()
    try:
        kept = [[] for _ in range(gc_between.AFTER_RESPONSE + 500)]  # young, tracked, alive
        assert gc.get_count()[0] > gc_between.AFTER_RESPONSE
        with client.get("/api/v1/incident-types") as r:
            assert r.status_code == 200
            body = r.get_data()
            assert started == []  # nothing collected while the answer was made and sent
        assert started == [0]  # then, once the body was closed, the young generation
        assert gc.get_count()[0] < gc_between.AFTER_RESPONSE
        assert b"accident.fire.urban" in body and len(kept) > gc_between.AFTER_RESPONSE
    finally:
        gc.callbacks.remove(seen)


def test_a_small_young_generation_is_left_alone(client):
    started, seen = _collections()
    try:
        with client.get("/api/v1/incident-types") as r:
            assert r.status_code == 200
        assert started == []
    finally:
        gc.callbacks.remove(seen)
