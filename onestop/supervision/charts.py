"""Charts drawn on the server as SVG (no script, nothing fetched): horizontal bars, each bar a link to
the applications behind it. Every chart is shown with the table of its numbers beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

BAR_H, GAP, LABEL_W, BAR_W = 22, 6, 150, 260


def bars(rows: Sequence[tuple[str, float | int | None, str | None]], *, title: str, unit: str = "",
         maximum: float | None = None) -> Markup:
    """rows: (label, value, link). A value None is drawn as an empty bar marked "–"."""
    values = [float(v) for _l, v, _h in rows if v is not None]
    top = maximum if maximum is not None else max(values, default=0.0) or 1.0
    height = len(rows) * (BAR_H + GAP) + GAP
    width = LABEL_W + BAR_W + 70
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>']
    for i, (label, value, href) in enumerate(rows):
        y = GAP + i * (BAR_H + GAP)
        length = 0 if value is None or top <= 0 else max(float(value) / top * BAR_W, 1 if value else 0)
        text = "–" if value is None else f"{_num(value)}{unit}"
        bar = (f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>'
               f'<rect x="{LABEL_W}" y="{y}" width="{length:.1f}" height="{BAR_H}" fill="#2f6db5"/>'
               f'<text x="{LABEL_W + length + 4:.1f}" y="{y + 15}" font-size="12">{escape(text)}</text>')
        if href:
            bar = f'<a href="{escape(href)}">{bar}</a>'
        parts.append(f"<g>{bar}</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text and link above went through escape())


def _num(value: float | int) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{float(value):.2f}"


def summary_rows(view: Any) -> list[tuple[str, Any]]:
    """The dashboard's headline figures as (name, value): the summary export and the monthly report."""
    e = view.elapsed
    return [
        ("period", view.period.label), ("submitted", view.submitted), ("ended", view.ended),
        ("on_time", view.on_time), ("on_time_rate_percent", view.on_time_rate),
        ("elapsed_working_days_mean", e.mean), ("elapsed_working_days_p50", e.p50),
        ("elapsed_working_days_p90", e.p90), ("paused_working_days_mean", view.paused_mean),
        ("supplemented", view.supplemented), ("supplement_rate_percent", view.supplement_rate),
        ("extensions", view.extensions), ("rongque", view.rongque), ("commitment", view.commitment),
        ("overdue_now", view.overdue_count), ("bad_ratings", view.bad_ratings),
        ("bad_ratings_answered_within_5_working_days", view.bad_answered_in_time),
        ("bad_ratings_answered_rate_percent", view.bad_answered_rate),
        *[(f"held_up_by:{code}", n) for code, _name, n in view.held_by],
        *[(f"state:{state}", n) for state, n in sorted(view.by_state.items())],
        *[(f"rating_level:{level}", n) for level, n in view.ratings.items()],
        *[(f"post_check:{k}", n) for k, n in view.post_checks.items()],
    ]


def dashboard_charts(view: Any, link: Any) -> dict[str, Markup]:
    """The dashboard's charts; link(show, **args) gives the drill-down of a bar."""
    from flask_babel import gettext as _

    out = {
        "held": bars([(name, n, link(f"held:{code}")) for code, name, n in view.held_by],
                     title=_("Applications held up, by department")),
        "on_time": bars([(g.label, g.on_time_rate, link("steps_late", department=g.key)) for g in view.departments],
                        title=_("On-time rate of steps, by department"), unit="%", maximum=100),
        "p90": bars([(g.label, g.counted.p90, link("steps", department=g.key, order="elapsed"))
                     for g in view.departments], title=_("Working days p90, by department")),
        "ratings": bars([(str(level), n, None) for level, n in view.ratings.items()], title=_("Ratings by level")),
    }
    if view.monthly:
        out["monthly"] = bars([(m["month"], m["ended"], link(f"month:{m['month']}")) for m in view.monthly],
                              title=_("Applications ended per month"))
    return out
