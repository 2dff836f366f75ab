"""The values that cross the provider interface: built straight into their frozen dicts, they
keep a dataclass's behaviour (immutable, equal by value, hashable, `replace`)."""

import dataclasses

import pytest

from providers.base import EmailStatus, Outcome, OutcomeKind, PersonInput


def test_person_input_trims_blanks_and_composes_the_full_name():
    person = PersonInput(first_name="  Jane ", last_name="Doe\t", domain="", email="   ")

    assert person.first_name == "Jane"
    assert person.last_name == "Doe"
    assert person.full_name == "Jane Doe"
    assert person.domain is None
    assert person.email is None
    assert PersonInput(full_name=" Jane   Q  Doe ", first_name="J", last_name="D").full_name == (
        "Jane Q Doe"
    )


def test_person_input_is_a_frozen_value():
    person = PersonInput(first_name="Jane", last_name="Doe", domain="acme.com")

    assert person == PersonInput("Jane", "Doe", None, None, "acme.com")
    assert hash(person) == hash(PersonInput(first_name="Jane", last_name="Doe", domain="acme.com"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        person.domain = "other.com"  # type: ignore[misc]
    moved = dataclasses.replace(person, domain=" other.com ")
    assert (moved.domain, moved.full_name) == ("other.com", "Jane Doe")
    assert person.identity() == PersonInput(**dataclasses.asdict(person)).identity()


def test_outcome_is_a_frozen_value():
    found = Outcome.found("jane@acme.com", confidence=90, verdict=EmailStatus.VALID, cost=1.0)

    assert found == Outcome(OutcomeKind.FOUND, "jane@acme.com", 90, EmailStatus.VALID, "", 1.0)
    assert (found.retry_after, found.ms, found.provider_status) == (None, 0, "")
    assert hash(found) == hash(dataclasses.replace(found))
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.ms = 3  # type: ignore[misc]
    assert dataclasses.replace(found, ms=12).ms == 12
    assert Outcome.rate_limited(2.0).retry_after == 2.0
