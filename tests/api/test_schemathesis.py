"""schemathesis against the served OpenAPI schema, through a real port: no operation
answers anything with a 5xx, an undocumented status or content type, or a body that does
not match its documented schema (bounded examples per operation)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from nextbest.api import create_app
from nextbest.api.auth import create_key
from nextbest.testing import make_engine
from tests.api.test_app import serving

ENGINE = make_engine()
ENGINE.upsert_profile("c1", {"age": 40, "income": 50000, "in_arrears": False})
KEY = create_key(ENGINE.store, "admin", "schemathesis", 0.0)[1]
APP = create_app(ENGINE)
schema = schemathesis.openapi.from_dict(APP.openapi())


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(APP, KEY) as client:
        yield str(client.base_url).rstrip("/")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case: schemathesis.Case, base_url: str) -> None:
    case.call_and_validate(
        base_url=base_url,
        headers={"authorization": f"Bearer {KEY}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
