"""Plausible synthetic place names (deterministic, never real places below the county level)."""

from __future__ import annotations

import numpy as np

# Characters common in Yunnan place names (Bai/Han toponymy: 甸, 坝, 邑, 营, 哨, 箐, 登 ...).
_FIRST = list("金云凤龙石马沙白永平宁安华新和庆兴丰清碧玉上下东西南北大小双三长青松桃梨茶")
_SECOND = list("甸坝邑营哨箐登河江源山湾桥溪关庄铺村坡场沟塘屯寨坪岭里乐仁福")


def place_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct two-character stems such as 凤甸 or 石营 (three characters when a
    two-character stem is taken)."""
    taken: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        a = _FIRST[int(rng.integers(len(_FIRST)))]
        b = _SECOND[int(rng.integers(len(_SECOND)))]
        stem = a + b
        if stem in taken:
            stem = (
                a
                + _SECOND[int(rng.integers(len(_SECOND)))]
                + _SECOND[int(rng.integers(len(_SECOND)))]
            )
        if stem not in taken:
            taken.add(stem)
            out.append(stem)
    return out
