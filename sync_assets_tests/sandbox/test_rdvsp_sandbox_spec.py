"""Every response of the RDV Service Public sandbox validates against the reference OpenAPI spec.

The spec is the 2025 copy vendored by La Coop (fixtures/rdvsp/SOURCES.md), with the gaps that
file lists patched in the way the API behaves: `rdv.lieu` and `motif.motif_category` may be
null, and nullable enums accept null.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
import pytest
from openapi_schema_validator import OAS30Validator

SPEC = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "rdvsp" / "rdvsp-openapi-v1.coop-vendored-2025-09-30.json").read_text()
)


def _nullable_enums_accept_null(node) -> None:
    """OpenAPI 3.0.3: a nullable enum must list null to accept it; the 2025 spec omits it."""
    if isinstance(node, dict):
        if node.get("nullable") and isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"].append(None)
        for value in node.values():
            _nullable_enums_accept_null(value)
    elif isinstance(node, list):
        for value in node:
            _nullable_enums_accept_null(value)


def components() -> dict:
    patched = copy.deepcopy(SPEC["components"])
    schemas = patched["schemas"]
    # The API sends null where the spec has a bare $ref (fixtures/rdvsp/SOURCES.md).
    schemas["rdv"]["properties"]["lieu"] = {**schemas["lieu"], "nullable": True}
    schemas["motif"]["properties"]["motif_category"] = {**schemas["motif_category"], "nullable": True}
    _nullable_enums_accept_null(patched)
    return patched


def response_schema(path: str, method: str, status: str) -> dict:
    operation = SPEC["paths"][path][method]
    return operation["responses"][status]["content"]["application/json"]["schema"]


def assert_valid(body, schema: dict) -> None:
    validator = OAS30Validator({**schema, "components": components()})
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:10])


@pytest.fixture
def api(sandbox):
    oauth = sandbox.rdvsp.oauth
    tokens = oauth.issue(1)
    with httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}) as c:
        yield c


ORG = 100
LISTINGS = [
    ("/api/v1/organisations", "/api/v1/organisations", {}),
    ("/api/v1/rdvs", "/api/v1/rdvs", {"organisation_id": ORG}),
    ("/api/v1/rdvs", "/api/v1/rdvs", {"starts_after": "2020-01-01", "page": 2}),
    ("/api/v1/organisations/{organisation_id}/rdvs", f"/api/v1/organisations/{ORG}/rdvs", {}),
    ("/api/v1/users", "/api/v1/users", {}),
    ("/api/v1/organisations/{organisation_id}/motifs", f"/api/v1/organisations/{ORG}/motifs", {}),
    ("/api/v1/agents", "/api/v1/agents", {"organisation_id": ORG}),
    ("api/v1/organisations/{organisation_id}/webhook_endpoints", f"/api/v1/organisations/{ORG}/webhook_endpoints", {}),
]


@pytest.mark.parametrize("spec_path, url, params", LISTINGS, ids=[f"{u} {p}" for _, u, p in LISTINGS])
def test_listings_match_the_spec(api, spec_path, url, params):
    response = api.get(url, params=params)
    assert response.status_code == 200
    body = response.json()
    assert_valid(body, response_schema(spec_path, "get", "200"))
    assert body["meta"]["total_count"] >= len(next(v for k, v in body.items() if k != "meta"))


def test_rdvs_include_some_without_lieu_and_collective_ones(api):
    """The listing covers the shapes that matter: null lieu, several participations."""
    rdvs = [r for page in range(1, 5) for r in api.get("/api/v1/rdvs", params={"page": page}).json()["rdvs"]]
    assert any(r["lieu"] is None for r in rdvs)
    assert any(len(r["participations"]) > 1 for r in rdvs)


def test_single_records_match_the_spec(api, sandbox):
    user_id = next(iter(sandbox.world.users))
    assert_valid(api.get(f"/api/v1/users/{user_id}").json(), response_schema("/api/v1/users/{user_id}", "get", "200"))
    assert_valid(
        api.get(f"/api/v1/organisations/{ORG}").json(),
        response_schema("api/v1/organisations/{organisation_id}", "get", "200"),
    )


def test_endpoints_missing_from_the_spec_use_its_component_schemas(api):
    me = api.get("/api/v1/agents/me").json()
    assert_valid(me["agent"], {"$ref": "#/components/schemas/agent"})
    lieux = api.get("/api/v1/lieux", params={"organisation_id": ORG}).json()
    assert lieux["lieux"]
    for lieu in lieux["lieux"]:
        assert_valid(lieu, {"$ref": "#/components/schemas/lieu"})
    assert_valid(lieux["meta"], {"$ref": "#/components/schemas/meta"})


def test_webhook_endpoint_creation_and_errors_match_the_spec(api):
    path = "api/v1/organisations/{organisation_id}/webhook_endpoints"
    created = api.post(
        f"/api/v1/organisations/{ORG}/webhook_endpoints",
        json={"target_url": "https://x.example/h", "secret": "s", "trigger": False},
    )
    assert created.status_code == 200
    assert_valid(created.json(), response_schema(path, "post", "200"))
    assert "secret" not in created.json()["webhook_endpoint"]
    refused = api.post(f"/api/v1/organisations/{ORG}/webhook_endpoints", json={"subscriptions": ["nope"]})
    assert refused.status_code == 422
    assert_valid(refused.json(), response_schema(path, "post", "422"))


def test_error_bodies_match_the_spec(api, sandbox):
    unauthenticated = httpx.get(f"{sandbox.base_url}/api/v1/rdvs", headers={"Authorization": "Bearer wrong"})
    assert unauthenticated.status_code == 401
    assert_valid(unauthenticated.json(), response_schema("/api/v1/organisations/{organisation_id}/rdvs", "get", "401"))
    missing = api.get("/api/v1/users/1")
    assert missing.status_code == 404
    assert_valid(missing.json(), {"$ref": "#/components/schemas/error_not_found"})
    sandbox.world.agents[1].roles.pop(ORG + 1)
    forbidden = api.get(f"/api/v1/organisations/{ORG + 1}")
    assert forbidden.status_code == 403
    assert_valid(forbidden.json(), {"$ref": "#/components/schemas/error_forbidden"})


def test_listings_are_100_a_page_and_unordered_but_complete(api, sandbox):
    first = api.get("/api/v1/rdvs").json()
    assert len(first["rdvs"]) == 100
    ids = [
        r["id"]
        for page in range(1, first["meta"]["total_pages"] + 1)
        for r in api.get("/api/v1/rdvs", params={"page": page}).json()["rdvs"]
    ]
    assert sorted(ids) == sorted(sandbox.world.rdvs)
    assert ids != sorted(ids)  # no ORDER BY
    sandbox.world.create_rdv()
    again = [r["id"] for r in api.get("/api/v1/rdvs").json()["rdvs"]]
    assert again[:100] != ids[:100]  # any write reshuffles the order


def test_a_basic_agent_sees_join_duplicates(sandbox):
    tokens = sandbox.rdvsp.oauth.issue(2)  # agent 2: basic agent of the first organisation
    with httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}) as c:
        body = c.get("/api/v1/rdvs").json()
        ids = [
            r["id"]
            for p in range(1, body["meta"]["total_pages"] + 1)
            for r in c.get("/api/v1/rdvs", params={"page": p}).json()["rdvs"]
        ]
    visible = {r.id for r in sandbox.world.rdvs.values() if 2 in r.agent_ids}
    assert set(ids) == visible
    assert len(ids) == body["meta"]["total_count"] == sum(len(sandbox.world.rdvs[i].agent_ids) for i in visible)


# --- Write-back and revocation ------------------------------------------------------------------


def example_of(path: str, method: str, status: str):
    examples = SPEC["paths"][path][method]["responses"][status]["content"]["application/json"]["examples"]
    return next(iter(examples.values()))["value"]


def schema_of_example(value) -> dict:
    """A schema requiring the example's fields with the example's types (the spec gives rdv plans
    as examples only)."""
    if isinstance(value, dict):
        return {
            "type": "object",
            "required": sorted(value),
            "properties": {k: schema_of_example(v) for k, v in value.items()},
        }
    if value is None:
        return {"nullable": True}
    return {"type": {bool: "boolean", int: "integer", str: "string"}[type(value)]}


def rdv_plan_schema() -> dict:
    schema = schema_of_example(example_of("/api/v1/rdv_plans/{rdv_plan_id}", "get", "200"))
    created = example_of("/api/v1/rdv_plans", "post", "201")["rdv_plan"]
    assert created["rdv"] is None  # a plan has no RDV until the agent takes one
    schema["properties"]["rdv_plan"]["properties"]["rdv"]["nullable"] = True
    return schema


def test_rdv_plans_match_the_spec_examples(api, sandbox):
    user_id = next(u.id for u in sandbox.world.users.values() if ORG in u.organisation_ids)
    created = api.post("/api/v1/rdv_plans", json={"user": {"id": user_id}, "return_url": "https://coop.example/r"})
    assert created.status_code == 201
    assert_valid(created.json(), rdv_plan_schema())
    plan = created.json()["rdv_plan"]
    assert plan["rdv"] is None and plan["user_id"] == user_id
    sandbox.world.book_rdv_plan(plan["id"])
    shown = api.get(f"/api/v1/rdv_plans/{plan['id']}")
    assert shown.status_code == 200
    assert_valid(shown.json(), rdv_plan_schema())
    assert shown.json()["rdv_plan"]["rdv"]["status"] == "unknown"
    invalid = api.post("/api/v1/rdv_plans", json={"user": {"email": "x@example.org"}})
    assert invalid.status_code == 422
    assert_valid(
        invalid.json(), response_schema("api/v1/organisations/{organisation_id}/webhook_endpoints", "post", "422")
    )  # the API's one 422 shape


def test_update_status_answers_the_status_alone_as_the_api_notes_say(api, sandbox):
    """Not in the 2025 spec (added in November 2025): API-NOTES §1.3, `{status}` in and out."""
    rdv = next(r for r in sandbox.world.rdvs.values() if r.organisation_id == ORG)
    answer = api.patch(f"/api/v1/rdvs/{rdv.id}/update_status", json={"status": "noshow"})
    assert answer.status_code == 200 and answer.json() == {"status": "noshow"}
    assert {p.status for p in sandbox.world.rdvs[rdv.id].participations} == {"noshow"}
    refused = api.patch(f"/api/v1/rdvs/{rdv.id}/update_status", json={"status": "present"})
    assert refused.status_code == 422 and set(refused.json()) == {"errors", "error_messages"}
    assert api.patch("/api/v1/rdvs/1/update_status", json={"status": "seen"}).status_code == 404


def test_token_revocation_follows_rfc_7009_as_doorkeeper_answers_it(sandbox):
    oauth = sandbox.rdvsp.oauth
    tokens = oauth.issue(1)
    client = {"client_id": oauth.client_id, "client_secret": oauth.client_secret}
    anonymous = httpx.post(f"{sandbox.base_url}/oauth/revoke", data={"token": tokens["refresh_token"]})
    assert anonymous.status_code == 403 and anonymous.json()["error"] == "unauthorized_client"
    revoked = httpx.post(f"{sandbox.base_url}/oauth/revoke", data={"token": tokens["refresh_token"], **client})
    assert revoked.status_code == 200 and revoked.json() == {}
    # The access token of the same grant stopped working too; an unknown token is still a 200.
    me = httpx.get(
        f"{sandbox.base_url}/api/v1/agents/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 401
    assert httpx.post(f"{sandbox.base_url}/oauth/revoke", data={"token": "unknown", **client}).status_code == 200
