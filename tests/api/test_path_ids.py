"""Customer ids that hold a `/`, a `%` or other characters a path must encode are
addressable in the path routes, each segment decoded once (over a real port: the server
decodes the path before routing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from nextbest.api import create_app
from nextbest.decision.engine import Engine
from tests.api.test_app import make_engine, serving

IDS = ["tenant/42", "a%2Fb", "50%", "x/merges", "ü/ß ?#", "/lead", "end/", "c-plain"]


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    engine: Engine = make_engine()
    with serving(create_app(engine, auth=False)) as c:
        for age, customer in enumerate(IDS, start=20):
            sent = c.post("/v1/identify", json={"userId": customer, "traits": {"age": age}})
            assert sent.status_code == 200, sent.text
        yield c


def path(customer: str, rest: str = "") -> str:
    return f"/v1/profiles/{quote(customer, safe='')}{rest}"


@pytest.mark.parametrize("customer", IDS)
def test_each_profile_route_reaches_its_own_customer(client: httpx.Client, customer: str) -> None:
    age = 20 + IDS.index(customer)
    got = client.get(path(customer))
    assert got.status_code == 200, got.text
    assert got.json()["customer_id"] == customer and got.json()["traits"]["age"] == age
    patched = client.patch(path(customer), json={"traits": {"income": 1000 + age}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["customer_id"] == customer
    assert patched.json()["traits"] == {"age": age, "income": 1000 + age}
    granted = client.post(
        path(customer, "/consents"), json={"purpose": "marketing", "status": "granted"}
    )
    assert granted.status_code == 200, granted.text
    consents = client.get(path(customer, "/consents")).json()
    assert consents["customer_id"] == customer
    assert [(r["purpose"], r["status"]) for r in consents["records"]] == [("marketing", "granted")]
    assert client.get(path(customer, "/merges")).json() == {"merges": []}
    export = client.get(f"/v1/subjects/{quote(customer, safe='')}/export")
    assert export.status_code == 200, export.text
    assert export.json()["customer_id"] == customer
    assert str(1000 + age) in json.dumps(export.json()["profile"])


def test_an_id_that_names_no_profile_is_a_404_naming_it(client: httpx.Client) -> None:
    got = client.get(path("tenant/43"))
    assert got.status_code == 404 and "tenant/43" in got.text
    assert client.get("/v1/profiles/tenant/42/extra").status_code == 404


def test_metrics_count_the_route_template_not_the_id(client: httpx.Client) -> None:
    client.get(path("tenant/42"))
    text = client.get("/metrics").text
    assert 'route="/v1/profiles/{customer_id}"' in text
    assert "tenant" not in text


def test_a_customer_named_lookup_is_read_with_its_id_encoded(client: httpx.Client) -> None:
    """`/v1/profiles/lookup` is the identifier lookup; the customer `lookup` is reached by
    encoding a letter of its id, which routing sees as sent."""
    sent = client.post("/v1/identify", json={"userId": "lookup", "traits": {"age": 33}})
    assert sent.status_code == 200, sent.text
    assert client.get("/v1/profiles/lookup").status_code == 422  # the lookup, missing its query
    got = client.get("/v1/profiles/%6Cookup")
    assert got.status_code == 200, got.text
    assert got.json()["customer_id"] == "lookup" and got.json()["traits"]["age"] == 33
