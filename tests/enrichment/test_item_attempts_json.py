"""An item's attempts are written as JSON text built from each attempt's shape
(waterfall.attempts_json): the same JSON as encoding every attempt's to_json(), whatever the
attempt holds."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from enrichment import waterfall
from providers.base import Attempt, DataPoint, EmailStatus, OutcomeKind

_TEXT = st.text(max_size=12)  # quotes, backslashes, controls, any code point
_ATTEMPTS = st.builds(
    Attempt,
    provider=st.sampled_from(["sandbox_a", "pdl", 'we"ird\\']) | _TEXT,
    data_point=st.sampled_from(list(DataPoint)),
    outcome=st.sampled_from(list(OutcomeKind)),
    ms=st.integers(0, 10**6) | st.booleans() | st.floats(0, 10, allow_nan=False),
    cost=st.sampled_from([0.0, 0.5, 1.5]) | st.integers(0, 3) | st.booleans(),
    cached=st.booleans() | st.integers(0, 1),
    provider_status=st.sampled_from(["", "found", "200"]) | _TEXT,
    verdict=st.none() | st.sampled_from(list(EmailStatus)),
    cache_entry_id=st.none() | st.integers(1, 10**12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_ATTEMPTS, max_size=4), min_size=1, max_size=6))
def test_attempts_json_is_the_json_of_every_attempts_to_json(items):
    for attempts in items:
        text = waterfall.attempts_json(attempts)

        decoded = json.loads(text)
        assert decoded == json.loads(json.dumps([a.to_json() for a in attempts]))
        # Equal values of another type are another JSON value (0 and 0.0, 1 and true).
        assert [{k: type(v) for k, v in d.items()} for d in decoded] == [
            {k: type(v) for k, v in a.to_json().items()} for a in attempts
        ]


def test_attempts_json_forgets_its_shapes_past_its_bound(monkeypatch):
    monkeypatch.setattr(waterfall, "_ATTEMPT_HEADS", {})
    monkeypatch.setattr(waterfall, "_ATTEMPT_HEADS_MAX", 3)
    attempts = [
        Attempt(provider=f"p{i}", data_point=DataPoint.EMAIL, outcome=OutcomeKind.FOUND)
        for i in range(7)
    ]

    text = waterfall.attempts_json(attempts)

    assert json.loads(text) == [a.to_json() for a in attempts]
    assert len(waterfall._ATTEMPT_HEADS) <= 3
