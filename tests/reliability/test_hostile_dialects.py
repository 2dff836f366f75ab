"""Schemathesis over each vendor dialect's OpenAPI document (compat/): every operation, valid and
invalid generated requests with an all-scopes key on a funded workspace. No 5xx; every status
code documented; every body matches its schema."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, settings

from tests.reliability.conftest import LONG, count_case, wsgi_in_test_transaction
from tests.reliability.test_hostile_schemathesis import EXCLUDED_CHECKS

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]

EXAMPLES_PER_OPERATION = 200 if LONG else 25
_APP = get_wsgi_application()
lance = schemathesis.openapi.from_wsgi("/api/v1/operations/enrichment/schema?format=json", _APP)
enrichleads = schemathesis.openapi.from_wsgi("/api/schema?format=json", _APP)
localleads = schemathesis.openapi.from_wsgi("/api/v1/enrichment/schema?format=json", _APP)

_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=not LONG,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


def _check(case, seeded) -> None:
    count_case("schemathesis dialects")
    with wsgi_in_test_transaction():
        case.call_and_validate(
            headers={"Authorization": f"Bearer {seeded['api_key'].raw_key}"},
            excluded_checks=EXCLUDED_CHECKS,
        )


@lance.parametrize()
@_SETTINGS
def test_hostile_schemathesis_lance(case, seeded):
    _check(case, seeded)


@enrichleads.parametrize()
@_SETTINGS
def test_hostile_schemathesis_enrichleads(case, seeded):
    _check(case, seeded)


@localleads.parametrize()
@_SETTINGS
def test_hostile_schemathesis_localleads(case, seeded):
    _check(case, seeded)
