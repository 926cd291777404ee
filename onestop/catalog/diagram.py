"""The item graph of a bundle laid out for an SVG drawn on the server: one column per stage (items of a
stage run in parallel), an arrow from each 前置 item to the items that wait for it. The template draws
it; text stays text (escaped by Jinja), so the drawing needs no script and no external asset."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _

from workflows.catalog.schema import Bundle, Condition
from workflows.measures import levels

NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 230, 84, 56, 18, 12
LINE_UNITS = 15.0  # a node line holds about this many CJK characters (a Latin letter counts ~0.55)


@dataclass(frozen=True)
class Node:
    code: str
    x: int
    y: int
    lines: list[str]  # the item's name, wrapped
    department: str
    limit: str
    conditional: bool


@dataclass(frozen=True)
class Edge:
    path: str  # SVG path data


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    nodes: list[Node]
    edges: list[Edge]
    stages: list[list[str]]


def _units(char: str) -> float:
    return 1.0 if ord(char) > 0x2E80 else 0.55


def wrap(text: str, limit: float = LINE_UNITS, max_lines: int = 2) -> list[str]:
    """Wrap a CJK or Latin name into at most `max_lines` lines (the last one ends with … when cut)."""
    lines: list[str] = []
    current, used = "", 0.0
    words = text.split(" ") if not any(ord(c) > 0x2E80 for c in text) else list(text)
    joiner = " " if len(words) > 1 and not any(ord(c) > 0x2E80 for c in text) else ""
    for word in words:
        size = sum(_units(c) for c in word) + (0.55 if current and joiner else 0)
        if current and used + size > limit:
            lines.append(current)
            current, used = word, sum(_units(c) for c in word)
        else:
            current = f"{current}{joiner}{word}" if current else word
            used += size
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = [*lines[:max_lines - 1], lines[max_lines - 1].rstrip() + "…"]
    return lines


def layout(bundle: Bundle, department_names: dict[str, str], limit_text: dict[str, str], lang: str) -> Diagram:
    stages = levels(bundle)
    rows = max(len(s) for s in stages)
    height = PAD * 2 + rows * NODE_H + (rows - 1) * ROW_GAP
    nodes: dict[str, Node] = {}
    for column, stage in enumerate(stages):
        top = PAD + (height - PAD * 2 - (len(stage) * NODE_H + (len(stage) - 1) * ROW_GAP)) // 2
        for row, code in enumerate(stage):
            item = bundle.item(code)
            nodes[code] = Node(code, PAD + column * (NODE_W + COL_GAP), top + row * (NODE_H + ROW_GAP),
                               wrap(item.name.get(lang), LINE_UNITS if lang != "en" else 26),
                               department_names.get(item.department, item.department), limit_text[code],
                               item.condition is not None)
    edges = []
    for item in bundle.items:
        for required in item.requires:
            a, b = nodes[required], nodes[item.code]
            x1, y1, x2, y2 = a.x + NODE_W, a.y + NODE_H // 2, b.x - 8, b.y + NODE_H // 2
            mid = (x1 + x2) // 2
            edges.append(Edge(f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"))
    width = PAD * 2 + len(stages) * NODE_W + (len(stages) - 1) * COL_GAP
    return Diagram(width, height, list(nodes.values()), edges, stages)


_OPS = {"eq": "=", "ne": "≠", "gte": "≥", "gt": ">", "lte": "≤", "lt": "<"}


def describe(bundle: Bundle, condition: Condition, lang: str) -> str:
    """A condition in words: "营业面积（平方米） ≥ 300", "设置户外招牌"."""
    if condition.all is not None:
        return (" " + _("and") + " ").join(describe(bundle, c, lang) for c in condition.all)
    if condition.any is not None:
        return (" " + _("or") + " ").join(describe(bundle, c, lang) for c in condition.any)
    assert condition.field is not None
    spec = bundle.field(condition.field)
    label = spec.label.get(lang)
    if condition.op == "true":
        return label
    if condition.op == "false":
        return _("not: %(label)s", label=label)
    value = condition.value
    if spec.choices:
        names = {c.value: c.label.get(lang) for c in spec.choices}
        value = "、".join(names.get(v, v) for v in value) if isinstance(value, list) else names.get(value, value)
    if condition.op == "months_ago_gte":
        return _("%(label)s at least %(n)s months ago", label=label, n=value)
    if condition.op == "in":
        return f"{label}: {value}"
    if isinstance(value, Decimal | float | int):
        value = format(Decimal(str(value)).normalize(), "f")
    return f"{label} {_OPS.get(str(condition.op), str(condition.op))} {value}"
