"""Fuzzing the mobile API from its own OpenAPI document (schemathesis strategies driven by
hypothesis): every documented operation gets generated requests — schema-valid ones and
schema-violating ones (schemathesis' positive and negative generation modes) — sent to the
app with a real worker token. No request may end in a 5xx, and every 4xx must be the
documented JSON error body. Over 2,000 requests per run (counted and asserted)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from api.v1.openapi import openapi_document

# > 2,000 generated requests; the database tier as a whole (the count check at the end takes
# no database fixture but needs the fuzzing tests before it).
pytestmark = [pytest.mark.slow, pytest.mark.db]

#: Examples per operation and generation mode: 12 operations × 2 modes × 90 > 2,000.
EXAMPLES = 90
SCHEMA = schemathesis.openapi.from_dict(openapi_document(prefix="/api/v1"))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
COUNTER = {"requests": 0}


def _check(response, case) -> None:
    COUNTER["requests"] += 1
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:300]}"
    )
    if response.status_code >= 400:
        body = response.json()
        assert set(body) >= {"error", "detail"}, body
        assert isinstance(body["detail"], str) and body["detail"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_5xx_from_generated_requests(operation, mode, api_app, worker):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case):
        _check(case.call(app=api_app, headers=worker.auth), case)

    run()


def test_enough_requests_were_generated():
    # Runs after the parametrized tests in this module (pytest keeps file order).
    assert COUNTER["requests"] >= 2000, COUNTER
