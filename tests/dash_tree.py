"""Test helper: walking a Dash component tree."""

from __future__ import annotations


def walk(component):
    """Every component in a Dash tree (depth first), the root included; strings and other
    non-components among the children are skipped."""
    yield component
    children = getattr(component, "children", None)
    if children is None:
        return
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from walk(child)
