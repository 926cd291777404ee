"""信用+秒批 rules, each passing and failing at its boundary (pure: no database)."""

from __future__ import annotations

import pytest

from workflows.catalog.schema import CatalogError, InstantApproval, load_catalog
from workflows.instant import CreditFacts, evaluate, passed, subjects

ID = "410105199001010011"


def rules() -> InstantApproval:
    bundle = next(b for b in load_catalog().bundles if b.code == "company_establishment")
    instant = bundle.item("social_insurance").instant
    assert instant is not None
    return instant


def answers(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"company_name": "郑州新芽科技有限公司", "company_address": "郑州市金水区经三路25号",
                               "employees": 5, "legal_rep_id": ID}
    base.update(overrides)
    return base


def outcome(results: list, key: str) -> bool:
    return next(r for r in results if r.key == key).passed


def test_a_clean_application_passes_every_rule():
    results = evaluate(rules(), answers(), {})
    assert passed(results) and [r.key for r in results] == ["complete", "small_employer", "credit", "no_penalties"]


@pytest.mark.parametrize("missing", ["company_name", "company_address", "employees"])
def test_completeness_fails_on_any_missing_field(missing):
    results = evaluate(rules(), answers(**{missing: ""}), {})
    assert not outcome(results, "complete") and not passed(results)
    assert missing in next(r for r in results if r.key == "complete").detail_en  # no labels given: the key


@pytest.mark.parametrize(("employees", "ok"), [(99, True), (100, True), (101, False)])
def test_employee_limit_boundary(employees, ok):
    assert outcome(evaluate(rules(), answers(employees=employees), {}), "small_employer") is ok


@pytest.mark.parametrize(("status", "ok"), [("none", True), ("good", True), ("watch", True), ("dishonest", False)])
def test_credit_status(status, ok):
    results = evaluate(rules(), answers(), {ID: CreditFacts(status=status)})
    assert outcome(results, "credit") is ok and passed(results) is ok


@pytest.mark.parametrize(("penalties", "ok"), [(0, True), (1, False), (3, False)])
def test_open_penalties_boundary(penalties, ok):
    assert outcome(evaluate(rules(), answers(), {ID: CreditFacts("good", penalties)}), "no_penalties") is ok


def test_no_subject_to_check_fails_the_credit_rules():
    results = evaluate(rules(), answers(legal_rep_id=""), {})
    assert not outcome(results, "credit") and not outcome(results, "no_penalties")


def test_subjects_are_upper_cased_codes_from_the_answers():
    assert subjects(rules(), answers(legal_rep_id="41010519900101001x")) == {"41010519900101001X"}


def test_catalog_refuses_rules_on_unknown_fields(tmp_path):
    import shutil

    from workflows.catalog.schema import BUNDLES_DIR

    folder = tmp_path / "bundles"
    shutil.copytree(BUNDLES_DIR, folder)
    path = folder / "company_establishment.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("subject: legal_rep_id", "subject: nobody_id", 1),
                    encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(folder)
    assert any("instant.rules.2: unknown field 'nobody_id'" in p for p in caught.value.problems)
