"""The shortcuts for values already in canonical form answer exactly what the full steps do."""

from hypothesis import given
from hypothesis import strategies as st

from leads import canonical
from providers.base import _clean

_ATOM = st.text(alphabet="abcxyz019_+-", min_size=1, max_size=6)
_LABEL = st.text(alphabet="abz09-", min_size=1, max_size=8)
# Near-canonical addresses (what leads hold), with the odd character that is not: upper case,
# blanks, brackets, `mailto:`, percent escapes, empty atoms and labels, a second `@`.
_ODD = st.sampled_from(["", "", "", "A", " ", "<", ">", "mailto:", "%41", ".", "@", "\n", "é"])
_ADDRESS = st.builds(
    lambda odd1, user, odd2, labels, tld, odd3: (
        f"{odd1}{'.'.join(user)}{odd2}@{'.'.join(labels)}.{tld}{odd3}"
    ),
    _ODD,
    st.lists(_ATOM, min_size=1, max_size=3),
    _ODD,
    st.lists(_LABEL, min_size=1, max_size=3),
    st.sampled_from(["com", "io", "c", "example", "COM"]),
    _ODD,
)


@given(st.one_of(_ADDRESS, st.text(max_size=40)))
def test_email_of_a_canonical_address_is_what_the_full_steps_give(raw):
    expected = canonical._email_worked_out(raw) if raw else None

    assert canonical.email(raw) == expected


def test_email_answers_a_canonical_address_itself():
    assert canonical.email("jane.doe+x@mail.acme-corp.io") == "jane.doe+x@mail.acme-corp.io"
    assert canonical.email("Jane@Acme.com") == "jane@acme.com"  # the full steps
    assert canonical.email("jane..doe@acme.com") is None


@given(st.one_of(st.text(alphabet=" ab\t\n\xa0é", max_size=12), st.text(max_size=20)))
def test_clean_of_a_single_spaced_value_is_what_split_and_join_give(value):
    assert _clean(value) == (" ".join(value.split()) or None)
