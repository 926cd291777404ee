"""Public pages: the catalog of bundles and each bundle's guide (一本指南)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from onestop.catalog.operations import bundle_of, current_version, current_versions, department_map

bp = Blueprint("catalog", __name__)


@bp.route("/")
def index() -> str:
    bundles = [bundle_of(v) for v in current_versions()]
    return render_template("catalog/index.html", bundles=bundles)


@bp.route("/guide/<code>")
def guide(code: str) -> str:
    version = current_version(code)
    if version is None:
        abort(404)
    bundle = bundle_of(version)
    return render_template("catalog/guide.html", bundle=bundle, version=version, departments=department_map())
