"""Translations: gettext-style ``.po`` catalogs read with Babel, Simplified Chinese by default.

Message ids are stable English texts (``t("Open events")``); the catalogs live in
``gridcmd/locale/<locale>/LC_MESSAGES/messages.po`` and are parsed once at import with
:func:`babel.messages.pofile.read_po` (no compile step, nothing to keep in sync by hand).
A msgid without a translation (absent, empty or fuzzy) falls back to the msgid itself, and an
unknown language falls back to :data:`DEFAULT_LANG`.

Adding a string: use ``t("New text")`` in the code, then add the entry to both catalogs
(``pybabel extract -k t -o messages.pot .`` and ``pybabel update`` work with the ``t`` keyword);
``tests/test_i18n.py`` fails while a literal ``t(...)`` msgid has no Chinese translation.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs

from babel.messages.pofile import read_po

from gridcmd.vocab import CATEGORY_MSGIDS, LEVEL_MSGIDS

__all__ = [
    "CATALOGS",
    "DEFAULT_LANG",
    "LANGS",
    "LOCALE_DIR",
    "category_name",
    "lang_from_search",
    "level_name",
    "normalise_lang",
    "t",
]

#: Languages of the UI, in the order the switch shows them.
LANGS: tuple[str, ...] = ("zh", "en")
DEFAULT_LANG = "zh"

LOCALE_DIR = Path(__file__).with_name("locale")

#: UI language → catalog locale directory.
_LOCALES: dict[str, str] = {"zh": "zh_CN", "en": "en"}

def _load(locale: str) -> MappingProxyType[str, str]:
    """msgid → translation of one catalog; untranslated and fuzzy entries are left out."""
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=locale)
    out: dict[str, str] = {}
    for message in catalog:
        if not message.id or message.fuzzy or not isinstance(message.id, str):
            continue  # header, unreviewed or plural entries
        if isinstance(message.string, str) and message.string:
            out[message.id] = message.string
    return MappingProxyType(out)


#: Read-only translation tables per UI language, loaded at import.
CATALOGS: MappingProxyType[str, MappingProxyType[str, str]] = MappingProxyType(
    {lang: _load(locale) for lang, locale in _LOCALES.items()}
)


def normalise_lang(lang: str | None) -> str:
    """``lang`` if it is one of :data:`LANGS`, else :data:`DEFAULT_LANG`."""
    return lang if lang in LANGS else DEFAULT_LANG


def t(msgid: str, lang: str = DEFAULT_LANG, **fmt: Any) -> str:
    """The translation of ``msgid`` into ``lang`` (unknown language → Chinese; missing
    translation → ``msgid``), then ``str.format(**fmt)`` if keyword arguments are given,
    e.g. ``t("{n} matches", "en", n=3)``."""
    text = CATALOGS[normalise_lang(lang)].get(msgid, msgid)
    return text.format(**fmt) if fmt else text


def lang_from_search(search: str | None) -> str:
    """The UI language from a URL query string such as ``"?cell=532901&lang=en"``: the value
    of ``lang`` when it is one of :data:`LANGS`, else :data:`DEFAULT_LANG`."""
    if not search or not isinstance(search, str):
        return DEFAULT_LANG
    values = parse_qs(search.lstrip("?")).get("lang") or []
    return normalise_lang(values[-1] if values else None)


def level_name(level: int, lang: str = DEFAULT_LANG) -> str:
    """The name of grid level ``level`` (1–6) in ``lang``; ``str(level)`` for anything else."""
    msgid = LEVEL_MSGIDS.get(level) if isinstance(level, int) else None
    return t(msgid, lang) if msgid else str(level)


def category_name(category: str, lang: str = DEFAULT_LANG) -> str:
    """The display name of an event category key (``"dispute"`` → 矛盾纠纷); unknown keys are
    returned unchanged."""
    msgid = CATEGORY_MSGIDS.get(category)
    return t(msgid, lang) if msgid else category
