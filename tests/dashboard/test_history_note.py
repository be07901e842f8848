"""History notes written by the workflow, shown in the reader's language (dashboard.cases)."""

from __future__ import annotations

import pytest

from dashboard.case_actions import history_note


@pytest.mark.parametrize(
    "note, zh, en",
    [
        ("dispatch: to worker 12 张三; priority red; due 2026-11-27T10:00Z | 尽快",
         "派遣: 派给 网格员 12 张三; 等级 红色; 期限 2026-11-27T10:00Z — 尽快",
         "Dispatch: to worker 12 张三; priority red; due 2026-11-27T10:00Z — 尽快"),
        ("supervise: overdue since 2026-11-23T23:13Z", "督办: 超期自 2026-11-23T23:13Z", None),
        ("escalate: supervised and unresolved for 4 h; owner level 3 → 2",
         "上报/升级: 督办后仍未办结 4 h; 责任层级 3 → 2", None),
        ("resolve: | overdue due to rain", "处置完毕 — overdue due to rain", None),
        ("合成演示数据", "合成演示数据", "合成演示数据"),  # not a workflow note: as is
        ("teleport: to worker 1", "teleport: to worker 1", None),  # unknown action: as is
        ("", "", ""),
    ],
)  # fmt: skip
def test_history_note(note, zh, en):
    assert history_note(note, "zh") == zh
    if en is not None:
        assert history_note(note, "en") == en


def test_user_words_are_never_translated():
    # the user's own note contains the fixed phrases; only the workflow's part is translated
    note = "decline: | to worker due priority"
    assert history_note(note, "zh") == "退回 — to worker due priority"
