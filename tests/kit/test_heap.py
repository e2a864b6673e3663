"""The collector's settings for a long-running process: what startup built is frozen, later cycles still go."""

from __future__ import annotations

import gc
import weakref

from artboard.kit.heap import YOUNG_OBJECTS, settle_after_startup


class Node:
    def __init__(self) -> None:
        self.partner: Node | None = None


def test_startup_objects_are_frozen_young_collections_are_rarer_and_later_cycles_are_still_collected() -> None:
    threshold = gc.get_threshold()
    try:
        settle_after_startup()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_OBJECTS, threshold[1], threshold[2])

        first, second = Node(), Node()
        first.partner, second.partner = second, first
        gone = weakref.ref(first)
        del first, second
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
