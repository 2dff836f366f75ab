from common.exceptions import InsufficientCredits, ValidationFailed, details_text, error_text


def test_details_text_renders_details_as_words():
    assert details_text({"required": 31636, "balance": 9315}) == "required: 31636, balance: 9315"
    assert details_text({"columns": ["Unknown column(s): x."], "list_id": "bad"}) == (
        "columns: Unknown column(s): x.; list id: bad"
    )


def test_error_text_is_the_message_then_the_details_never_a_dict():
    error = InsufficientCredits(required=31636, balance=9315)

    assert error_text(error) == (
        "This operation needs 31636 credits; 9315 are available. (required: 31636, balance: 9315)"
    )
    assert error_text(ValidationFailed("Bad.")) == "Bad."
