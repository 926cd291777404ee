"""Loading the catalog into the database: departments, and a pinned row per bundle version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onestop.accounts.models import Department
from onestop.audit.operations import Actor, record
from onestop.catalog.models import BundleVersion
from onestop.core.clock import now
from onestop.extensions import db
from workflows.catalog.schema import Bundle, Catalog, CatalogError

_bundles_by_hash: dict[str, Bundle] = {}


def bundle_of(version: BundleVersion) -> Bundle:
    """The parsed definition of a pinned version; versions are immutable, so cache by content hash."""
    bundle = _bundles_by_hash.get(version.sha256)
    if bundle is None:
        bundle = _bundles_by_hash[version.sha256] = Bundle.model_validate(version.definition)
    return bundle


def bundle_of_application(application: Any) -> Bundle:
    """The bundle an application pinned, without loading its version row when this process has seen it
    (a version row never changes; its id is unique per database, hence the engine URL in the key)."""
    key = (str(db.engine.url), application.bundle_version_id)
    sha = _version_hashes.get(key)
    if sha is not None and sha in _bundles_by_hash:
        return _bundles_by_hash[sha]
    bundle = bundle_of(application.bundle_version)
    _version_hashes[key] = application.bundle_version.sha256
    return bundle


_version_hashes: dict[tuple[str, int], str] = {}


def sync_catalog(catalog: Catalog, actor: Actor | None = None) -> list[str]:
    """Bring departments and bundle versions in line with the files; return what changed.

    A bundle whose content changed must carry a new version number: applications pin the version they
    were submitted under, so an old version's content can never change under them.
    """
    actor = actor or Actor.system()
    changes: list[str] = []
    departments = {d.code: d for d in db.session.scalars(select(Department))}
    for d in catalog.departments:
        row = departments.get(d.code)
        if row is None:
            db.session.add(Department(code=d.code, name_zh=d.name.zh, name_en=d.name.en))
            changes.append(f"department {d.code} added")
        elif (row.name_zh, row.name_en) != (d.name.zh, d.name.en):
            row.name_zh, row.name_en = d.name.zh, d.name.en
            changes.append(f"department {d.code} renamed")

    problems: list[str] = []
    for bundle in catalog.bundles:
        fingerprint = bundle.fingerprint()
        versions = list(db.session.scalars(select(BundleVersion).where(BundleVersion.code == bundle.code)))
        same = next((v for v in versions if v.version == bundle.version), None)
        if same is not None:
            if same.sha256 != fingerprint:
                problems.append(
                    f"{bundle.code}.yaml: version: the content of version {bundle.version} changed; "
                    f"give the changed definition a new version number"
                )
            elif not same.is_current:
                for v in versions:
                    v.is_current = v is same
                changes.append(f"bundle {bundle.code} v{bundle.version} made current again")
            continue
        if versions and bundle.version < max(v.version for v in versions):
            problems.append(f"{bundle.code}.yaml: version: {bundle.version} is older than the loaded versions")
            continue
        for v in versions:
            v.is_current = False
        db.session.add(
            BundleVersion(
                code=bundle.code, version=bundle.version, sha256=fingerprint,
                definition=bundle.model_dump(mode="json"), is_current=True, loaded_at=now(),
            )
        )
        changes.append(f"bundle {bundle.code} v{bundle.version} loaded")
    if problems:
        raise CatalogError(problems)
    if changes:
        db.session.flush()
        record("catalog:synced", "catalog", None, {"changes": changes}, actor=actor)
    return changes


def current_versions() -> list[BundleVersion]:
    return list(db.session.scalars(
        select(BundleVersion).where(BundleVersion.is_current.is_(True)).order_by(BundleVersion.id)
    ))


def current_version(code: str) -> BundleVersion | None:
    return db.session.scalars(
        select(BundleVersion).where(BundleVersion.code == code, BundleVersion.is_current.is_(True))
    ).first()


def department_ids(*, refresh: bool = False) -> dict[str, int]:
    """Department ids by code. A department's id never changes, so the map is kept per process; a caller
    that misses a code asks again with `refresh` (a department added since)."""
    key = str(db.engine.url)
    ids = _department_ids.get(key)
    if ids is None or refresh:
        ids = _department_ids[key] = dict(db.session.execute(select(Department.code, Department.id)).all())
    return ids


_department_ids: dict[str, dict[str, int]] = {}


def department_map() -> dict[str, Department]:
    """Departments by code, read once per transaction."""
    info = db.session().info
    if "onestop_departments" not in info:
        info["onestop_departments"] = {d.code: d for d in db.session.scalars(select(Department))}
    return info["onestop_departments"]  # type: ignore[no-any-return]
