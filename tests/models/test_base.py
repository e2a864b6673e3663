"""Record ids: PocketBase's shape, unique, and every character equally likely."""

from __future__ import annotations

import re
from collections import Counter

from artboard.models.base import ID_PATTERN, new_id


def test_ids_have_pocketbases_shape_never_repeat_and_use_every_character_alike() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert all(re.fullmatch(ID_PATTERN, id_) for id_ in ids)
    assert len(set(ids)) == len(ids)
    counts = Counter("".join(ids))
    expected = 20_000 * 15 / 36
    assert len(counts) == 36
    # 5% is over four standard deviations; a byte taken modulo 36 without skipping would put 14% more on a-d.
    assert all(abs(count - expected) < 0.05 * expected for count in counts.values()), counts
