"""gridcmd.i18n: catalogs, fallbacks, language from the URL, and catalog coverage of every
msgid the code uses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gridcmd import i18n
from gridcmd.i18n import (
    CATALOGS,
    DEFAULT_LANG,
    LANGS,
    category_name,
    lang_from_search,
    level_name,
    t,
)
from gridcmd.vocab import CATEGORY_MSGIDS, EVENT_CATEGORIES, LEVEL_MSGIDS, LEVELS

ROOT = Path(__file__).resolve().parents[1]
#: Packages whose UI text goes through t() (the vocabulary's labels live in gridcmd/vocab.py).
UI_PACKAGES = ("dashboard", "layers", "callbacks", "api", "geodata", "gridcmd", "app.py")


def _module_strings(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """Module-level ``NAME = "text"`` (incl. implicit concatenation) and the string values
    of module-level dicts named ``*MSGIDS``."""
    consts: dict[str, str] = {}
    dict_values: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            for target in targets:
                if not isinstance(target, ast.Name) or value is None:
                    continue
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    consts[target.id] = value.value
                elif target.id.endswith("MSGIDS") and isinstance(value, ast.Call) and (
                    len(value.args) == 1 and isinstance(value.args[0], ast.Dict)
                ):  # a read-only wrapper around a dict literal: MappingProxyType({...})
                    value = value.args[0]
                if target.id.endswith("MSGIDS") and isinstance(value, ast.Dict):
                    dict_values |= {
                        v.value
                        for v in value.values
                        if isinstance(v, ast.Constant) and isinstance(v.value, str)
                    }
    return consts, dict_values


def used_msgids() -> dict[str, set[str]]:
    """msgid → files, for every ``t(<literal or module constant>, ...)`` call and every
    ``*MSGIDS`` dict in the UI packages."""
    files: list[Path] = []
    for name in UI_PACKAGES:
        p = ROOT / name
        files += [p] if p.is_file() else sorted(p.rglob("*.py"))
    found: dict[str, set[str]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        consts, dict_values = _module_strings(tree)
        msgids = set(dict_values)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id != "t" or not node.args:
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                msgids.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in consts:
                msgids.add(consts[arg.id])
        for m in msgids:
            found.setdefault(m, set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_extractor_sees_the_panel_and_layout_strings():
    used = used_msgids()
    assert "Open events" in used  # METRIC_MSGIDS dict
    assert "Cells by level" in used  # literal t("...")
    assert "Prefecture" in used  # LEVEL_MSGIDS
    assert len(used) > 40


def test_every_msgid_used_has_a_chinese_translation():
    zh = CATALOGS["zh"]
    missing = {m: sorted(f) for m, f in used_msgids().items() if m not in zh}
    assert not missing, f"add these to gridcmd/locale/zh_CN/LC_MESSAGES/messages.po: {missing}"


def test_catalogs_have_the_same_msgids_and_placeholders():
    zh, en = CATALOGS["zh"], CATALOGS["en"]
    assert set(zh) == set(en)
    for msgid in zh:
        for fmt in ("{n}", "{days}"):
            if fmt in msgid:
                assert fmt in zh[msgid] and fmt in en[msgid], msgid


def test_chinese_is_the_default_and_english_works():
    assert DEFAULT_LANG == "zh" and LANGS == ("zh", "en")
    assert t("Open events") == "未办结事件"
    assert t("Open events", "zh") == "未办结事件"
    assert t("Open events", "en") == "Open events"
    assert t("No data", "en") == "—"  # en may differ from its msgid


def test_unknown_language_falls_back_to_chinese():
    for lang in ("fr", "", None, "EN", "zh-CN", 1):
        assert t("Open events", lang) == "未办结事件"


def test_missing_translation_returns_the_msgid():
    assert t("A text nobody translated") == "A text nobody translated"
    assert t("A text nobody translated", "en") == "A text nobody translated"


def test_format_arguments():
    assert t("{n} matches", "en", n=3) == "3 matches"
    assert t("{n} matches", "zh", n=3) == "3 条结果"
    assert t("Events reported, last {days} days", "zh", days=30) == "近30天上报事件"
    # no kwargs: braces are left alone (no accidental format)
    assert t("{n} matches", "en") == "{n} matches"


@pytest.mark.parametrize(
    ("search", "lang"),
    [
        ("?lang=en", "en"),
        ("?cell=532901&lang=en", "en"),
        ("lang=en", "en"),
        ("?lang=zh", "zh"),
        ("?lang=fr", "zh"),
        ("?lang=", "zh"),
        ("?lang=EN", "zh"),
        ("?lang=en&lang=zh", "zh"),  # the last one wins
        ("?cell=532901", "zh"),
        ("", "zh"),
        (None, "zh"),
        ("?%ff%fe=1&lang=en", "en"),
    ],
)
def test_lang_from_search(search, lang):
    assert lang_from_search(search) == lang


def test_level_and_category_names_cover_the_model():
    assert set(LEVEL_MSGIDS) == set(LEVELS)
    assert set(CATEGORY_MSGIDS) == set(EVENT_CATEGORIES)
    assert [level_name(k) for k in range(1, 7)] == [
        "州", "县（市）", "乡镇（街道）", "村（社区）", "网格", "微网格",
    ]  # fmt: skip
    assert level_name(2, "en") == "County"
    assert level_name(9) == "9"
    assert category_name("dispute") == "矛盾纠纷"
    assert category_name("forest_fire", "en") == "Forest fire"
    assert category_name("unknown_key") == "unknown_key"


def test_catalogs_are_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"locale/*/LC_MESSAGES/*.po"' in pyproject
    for locale in ("zh_CN", "en"):
        assert (i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").is_file()
