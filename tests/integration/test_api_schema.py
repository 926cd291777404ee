"""schemathesis against the OpenAPI document the application serves: generated requests to every
operation, as an applicant and as a reviewer; no 5xx, and every response matches the document
(status code, content type, body schema). Bounded: a few examples per operation."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from onestop.api.tokens import create_token
from onestop.core.jobs import commit
from tests.factories import make_application, make_person, make_reviewer


@schemathesis.serializer("application/pdf")
def _pdf(ctx: Any, value: Any) -> dict[str, Any]:
    """POST /verify takes a PDF as the raw body: generated values go as bytes (mostly not PDFs at all)."""
    return {"data": value if isinstance(value, bytes) else str(value).encode()}


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 40


@pytest.fixture
def tokens(app: Any) -> dict[str, str]:
    person = make_person()
    make_application("newborn_birth", applicant=person)
    reviewer = make_reviewer("samr")
    result = {"applicant": create_token(person, "fuzz", ["read", "apply"], person).secret,
              "reviewer": create_token(reviewer, "fuzz", ["read", "decide"], reviewer).secret}
    commit()
    return result


def test_every_operation_conforms_to_the_served_document(app: Any, tokens: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    statuses: list[int] = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def conforms(case: Any) -> None:
            for who in ("applicant", "reviewer"):
                response = case.call_and_validate(headers={"Authorization": f"Bearer {tokens[who]}"}, checks=CHECKS)
                statuses.append(response.status_code)

        conforms()
    assert len(statuses) >= 2 * len(operations)
    assert {200, 404, 422} <= set(statuses)  # the generated requests reach the operations, not only the refusals
