"""The catalog schema (broken files are refused with file, path and reason) and routing over the graph."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from workflows.catalog.schema import BUNDLES_DIR, DEPARTMENTS_FILE, Bundle, CatalogError, load_catalog
from workflows.routing import applicable_items, route
from workflows.states import StepState as S


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_shipped_catalog_is_valid(catalog):
    codes = {b.code for b in catalog.bundles}
    assert {"company_establishment", "restaurant_opening"} <= codes
    for bundle in catalog.bundles:
        for item in bundle.items:
            assert catalog.department(item.department)


def _broken_copy(tmp_path: Path, name: str, mutate) -> Path:
    folder = tmp_path / "bundles"
    shutil.copytree(BUNDLES_DIR, folder)
    data = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
    mutate(data)
    (folder / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["items"][1].update(requires=["no_such_item"]),
         "restaurant_opening.yaml: items.1.requires: unknown item 'no_such_item'"),
        (lambda d: d["items"][0].update(limit={"amount": 0.3, "unit": "working_days"}),
         "restaurant_opening.yaml: items.0.limit: working days are counted in half days"),
        (lambda d: d["items"][0].update(department="no_such_department"),
         "restaurant_opening.yaml: items.0.department: unknown department 'no_such_department'"),
        (lambda d: d["items"][0].update(requires=["food_licence"]),
         "restaurant_opening.yaml: items: the 前置 items form a cycle: "),
        (lambda d: d["sections"][0]["fields"][0].pop("label"),
         "restaurant_opening.yaml: sections.0.fields.0.label: Field required"),
        (lambda d: d["items"][2]["condition"].update(field="no_such_field"),
         "restaurant_opening.yaml: items.2.condition: unknown field 'no_such_field'"),
        (lambda d: d.update(surprise=True), "restaurant_opening.yaml: surprise: Extra inputs are not permitted"),
    ],
)
def test_broken_bundle_is_refused_with_file_path_and_reason(tmp_path, mutate, expected):
    folder = _broken_copy(tmp_path, "restaurant_opening.yaml", mutate)
    with pytest.raises(CatalogError) as exc:
        load_catalog(folder, DEPARTMENTS_FILE)
    assert any(expected in line for line in exc.value.problems), exc.value.problems


def test_invalid_yaml_is_refused_with_the_file_name(tmp_path):
    folder = tmp_path / "bundles"
    shutil.copytree(BUNDLES_DIR, folder)
    (folder / "restaurant_opening.yaml").write_text("code: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogError) as exc:
        load_catalog(folder, DEPARTMENTS_FILE)
    assert exc.value.problems[0].startswith("restaurant_opening.yaml: not valid YAML")


def test_file_name_must_match_code(tmp_path):
    folder = tmp_path / "bundles"
    shutil.copytree(BUNDLES_DIR, folder)
    (folder / "restaurant_opening.yaml").rename(folder / "restaurant.yaml")
    with pytest.raises(CatalogError) as exc:
        load_catalog(folder, DEPARTMENTS_FILE)
    assert "restaurant.yaml: code: 'restaurant_opening' does not match the file name" in exc.value.problems


def test_fingerprint_changes_with_content(catalog):
    bundle = catalog.bundle("restaurant_opening")
    data = bundle.model_dump(mode="json")
    data["items"][0]["limit"]["amount"] = "2"
    assert Bundle.model_validate(data).fingerprint() != bundle.fingerprint()
    assert Bundle.model_validate(bundle.model_dump(mode="json")).fingerprint() == bundle.fingerprint()


def test_conditions_switch_items(catalog):
    bundle = catalog.bundle("restaurant_opening")
    small = applicable_items(bundle, {"floor_area": 299.5, "wants_outdoor_sign": False})
    assert "fire_check" not in small and "outdoor_sign" not in small
    big = applicable_items(bundle, {"floor_area": 300, "wants_outdoor_sign": True})
    assert {"fire_check", "outdoor_sign"} <= set(big)


def test_routing_at_submission_starts_independent_items_and_waits_for_prerequisites(catalog):
    bundle = catalog.bundle("restaurant_opening")
    decision = route(bundle, {"floor_area": 80, "wants_outdoor_sign": True}, {})
    assert decision.start == ["business_licence"]
    assert decision.wait == ["food_licence", "outdoor_sign", "drainage_permit"]
    assert decision.not_applicable == ["fire_check"]


def test_routing_starts_dependants_after_approval_and_terminates_after_rejection(catalog):
    bundle = catalog.bundle("restaurant_opening")
    answers = {"floor_area": 80}
    waiting = {"business_licence": S.ACCEPTED, "food_licence": S.WAITING, "drainage_permit": S.WAITING}
    assert route(bundle, answers, waiting).start == []
    approved = waiting | {"business_licence": S.APPROVED}
    assert route(bundle, answers, approved).start == ["food_licence", "drainage_permit"]
    rejected = waiting | {"business_licence": S.REJECTED}
    decision = route(bundle, answers, rejected)
    assert [(t.item, t.blocked_by) for t in decision.terminate] == [
        ("food_licence", "business_licence"), ("drainage_permit", "business_licence")]
    assert decision.start == []


def test_company_establishment_promised_limit_equals_its_critical_path(catalog):
    bundle = catalog.bundle("company_establishment")
    longest: dict[str, float] = {}

    def path(code: str) -> float:
        if code not in longest:
            item = bundle.item(code)
            assert item.limit.unit.value == "working_days"
            longest[code] = float(item.limit.amount) + max((path(p) for p in item.requires), default=0)
        return longest[code]

    assert max(path(i.code) for i in bundle.items) == float(bundle.guide.promised_limit.amount) == 1.0
