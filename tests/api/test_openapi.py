"""The OpenAPI document matches the Flask rules of /api/v1."""

from __future__ import annotations

import re

from api.v1 import PREFIX

#: The JSON 404/405 catch-all is error handling, not an operation.
UNDOCUMENTED = {"api_v1.unknown"}


def test_every_rule_is_documented(client, api_app, worker):
    resp = client.get("/api/v1/openapi.json", headers=worker.auth)
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for rule in api_app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/") or rule.endpoint in UNDOCUMENTED:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule).replace(
            "{event_uuid}", "{uuid}"
        )
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method))
    assert served == documented


def test_schemas_resolve(client, worker):
    doc = client.get("/api/v1/openapi.json", headers=worker.auth).get_json()
    schemas = doc["components"]["schemas"]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', str(doc).replace("'", '"')))
    assert refs and refs <= set(schemas)
    event_in = schemas["EventIn"]
    assert {"uuid", "category", "title", "lon", "lat"} <= set(event_in["required"])
    assert event_in["properties"]["crs"]["enum"] == ["wgs84", "gcj02", "bd09"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for ops in doc["paths"].values():
        for op in ops.values():
            assert "401" in op["responses"] and "400" in op["responses"]
