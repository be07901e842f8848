"""The "部门 / Departments" overlay of the layers control (off by default).

:func:`department_overlay_for` builds the layer (``ids.DEPARTMENT_LAYER``) on
``GET /geo/departments.geojson`` with the kind labels of the page's language in its
``hideout``; markers and tooltips are drawn by ``dashboard/assets/departments.js`` (names
escaped there), styled by ``dashboard/assets/departments.css``. No callback: the route
derives the caller's scope server side.
"""

from __future__ import annotations

import dash_leaflet as dl

from api.departments import DEPARTMENTS_PATH
from dashboard import ids
from gridcmd.i18n import DEFAULT_LANG, t
from gridcmd.vocab import DEPARTMENT_KIND_MSGIDS
from layers.departments import department_layer, department_overlay, departments_hideout

__all__ = ["DEPARTMENTS", "department_overlay_for", "kind_label"]

# msgids (English source texts; translations in gridcmd/locale/*/messages.po)
DEPARTMENTS = "Departments"


def kind_label(kind: str, lang: str = DEFAULT_LANG) -> str:
    """The name of a department kind in ``lang`` (the kind itself when unknown)."""
    return t(DEPARTMENT_KIND_MSGIDS[kind], lang) if kind in DEPARTMENT_KIND_MSGIDS else kind


def department_overlay_for(lang: str = DEFAULT_LANG) -> dl.Overlay:
    """The "部门 / Departments" overlay (off by default): the department layer
    (``ids.DEPARTMENT_LAYER``) on ``GET /geo/departments.geojson``."""
    hideout = departments_hideout({k: kind_label(k, lang) for k in DEPARTMENT_KIND_MSGIDS})
    layer = department_layer(DEPARTMENTS_PATH, id=ids.DEPARTMENT_LAYER, hideout=hideout)
    return department_overlay(layer, name=t(DEPARTMENTS, lang), checked=False)
