"""The web processes' gunicorn settings: the loaded app is frozen out of the garbage collector's reach."""

from __future__ import annotations

import gc

import pytest

from lms.core import gunicorn_config


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_a_started_worker_freezes_what_it_loaded_and_collects_less_often(restored_gc):
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    gunicorn_config.post_worker_init(worker=None)
    assert gc.get_freeze_count() > 10_000  # the app and its libraries
    assert gc.get_threshold() == gunicorn_config.GC_THRESHOLDS
    frozen = gc.get_freeze_count()
    garbage = [[] for _ in range(1000)]
    for item in garbage:
        item.append(item)  # a cycle each: only the collector can free them
    del garbage, item
    assert gc.collect() >= 1000  # what is made after the freeze is still collected
    # Nothing made after the freeze joined the frozen objects. (Frozen ones may still go by reference counting —
    # another test's thread in this process freeing a module-level cache — so the count may drop, never grow.)
    assert gc.get_freeze_count() <= frozen
