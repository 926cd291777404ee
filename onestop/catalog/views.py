"""Public pages: the catalog of bundles with search and filters, and each bundle's guide (一本指南)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from onestop.applications.measures import figures
from onestop.catalog.diagram import describe, layout
from onestop.catalog.operations import bundle_of, current_version, current_versions, department_map
from onestop.core.i18n import current_lang
from onestop.core.templating import limit_text
from onestop.extensions import limiter
from workflows.catalog.schema import Bundle
from workflows.measures import TARGETS

bp = Blueprint("catalog", __name__)


def _matches(bundle: Bundle, query: str, names: dict[str, tuple[str, str]]) -> bool:
    """A query matches the name, summary, life event, an item or a department, in either language."""
    texts = [bundle.name.zh, bundle.name.en, bundle.guide.summary.zh, bundle.guide.summary.en,
             bundle.life_event.zh, bundle.life_event.en]
    for item in bundle.items:
        texts += [item.name.zh, item.name.en, *names.get(item.department, ("", ""))]
    folded = query.casefold()
    return any(folded in t.casefold() for t in texts)


@bp.route("/")
@limiter.limit("120 per minute")
def index() -> str:
    bundles = [bundle_of(v) for v in current_versions()]
    departments = department_map()
    names = {code: (d.name_zh, d.name_en) for code, d in departments.items()}
    query = (request.args.get("q") or "").strip()[:50]
    event = request.args.get("event") or ""
    department = request.args.get("department") or ""
    audience = request.args.get("audience") or ""
    events = sorted({b.life_event.zh: b.life_event for b in bundles}.items())
    used_departments = sorted({d for b in bundles for d in b.departments()})
    shown = [b for b in bundles
             if (not query or _matches(b, query, names))
             and (not event or b.life_event.zh == event)
             and (not department or department in b.departments())
             and (not audience or b.audience == audience)]
    return render_template("catalog/index.html", bundles=shown, total=len(bundles), query=query, event=event,
                           department=department, audience=audience, events=events,
                           departments=[departments[c] for c in used_departments if c in departments],
                           filtered=bool(query or event or department or audience),
                           figures={b.code: figures(b) for b in shown})


@bp.route("/guide/<code>")
@limiter.limit("120 per minute")
def guide(code: str) -> str:
    version = current_version(code)
    if version is None:
        abort(404)
    bundle = bundle_of(version)
    lang = current_lang()
    departments = department_map()
    names = {c: d.name(lang) for c, d in departments.items()}
    diagram = layout(bundle, names, {i.code: limit_text(i.limit) for i in bundle.items}, lang)
    conditions = {i.code: describe(bundle, i.condition, lang) for i in bundle.items if i.condition is not None}
    material_conditions = {m.key: describe(bundle, m.show_if, lang) for m in bundle.materials if m.show_if is not None}
    return render_template("catalog/guide.html", bundle=bundle, version=version, departments=departments,
                           diagram=diagram, conditions=conditions, material_conditions=material_conditions,
                           figures=figures(bundle), targets=TARGETS)
