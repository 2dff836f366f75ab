"""A provider call never runs inside a database transaction, so a slow provider never holds a
row lock that other requests of the workspace wait for."""

import threading

import pytest
from django.db import connection, transaction

from credits.services import credits_grant
from tests.conftest import client_for
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_company_enrichment_with_idempotency_key_does_not_block_a_concurrent_grant(
    funded, settings
):
    # given a company provider that takes 1.5 s, called through an Idempotency-Key request
    # (the key's bookkeeping once wrapped the hold, the call and the settlement in one
    # transaction, holding the credit account's row lock for the whole call)
    settings.SLUICE_SANDBOX_INSTANCES = {"sandbox": {"company_hit_rate": 1.0, "latency_ms": 1500}}
    api_key = ApiKeyFactory(workspace=funded)
    responses = []

    def enrich() -> None:
        try:
            response = client_for(api_key).post(
                "/api/v2/enrichment/company",
                {"domain": "slow-provider.example"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="company-slow-1",
            )
            responses.append(response)
        finally:
            connection.close()

    lookup = threading.Thread(target=enrich)
    lookup.start()

    # when grants to the same workspace run all through the lookup, each refusing to wait
    # more than 100 ms for a lock
    grants = 0
    try:
        while lookup.is_alive():
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '100ms'")
                credits_grant(
                    workspace=funded, amount=1, reason="test", reference=f"grant-{grants}"
                )
            grants += 1
            lookup.join(timeout=0.05)
    finally:
        lookup.join()

    # then none of them waited (a lock held across the call would have failed one), and the
    # lookup itself succeeded and was charged
    assert grants >= 5
    assert responses[0].status_code == 200, responses[0].content
    assert responses[0].json()["credits_charged"] == 1
