"""Fuzzing the mobile API from its own OpenAPI document (schemathesis): every documented
operation gets generated requests — valid ones and, through schemathesis' negative mode,
invalid ones — sent to the app with a real worker token. No request may end in a 5xx, and
every 4xx must be the documented JSON error body. Over 2,000 requests per run."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.v1.openapi import openapi_document

#: Examples per operation and mode (the document has ~15 operations: > 2,000 requests).
EXAMPLES = 80
COUNTER = {"requests": 0}


@pytest.fixture(scope="module")
def fuzz_schema():
    return schemathesis.openapi.from_dict(openapi_document(prefix="/api/v1"))


schema = schemathesis.pytest.from_fixture("fuzz_schema")


def _check(response, case) -> None:
    COUNTER["requests"] += 1
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:300]}"
    )
    if response.status_code >= 400:
        body = response.json()
        assert set(body) >= {"error", "detail"}, body
        assert isinstance(body["detail"], str) and body["detail"]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_5xx_from_generated_requests(case, api_app, worker):
    response = case.call(app=api_app, headers=worker.auth)
    _check(response, case)


def test_enough_requests_were_generated():
    # Runs after the parametrized test in this module (pytest keeps file order).
    assert COUNTER["requests"] >= 2000, COUNTER
