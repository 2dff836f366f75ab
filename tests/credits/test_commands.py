import pytest
from django.core.management import CommandError, call_command

from credits.models import LedgerEntry
from credits.services import balance_get

pytestmark = pytest.mark.django_db


def test_grant_credits_by_name_or_id(workspace, capsys):
    call_command("grant_credits", "--workspace", workspace.name, "--amount", "25", "--reason", "x")
    call_command(
        "grant_credits", "--workspace", str(workspace.id), "--amount", "5", "--reason", "y"
    )
    assert balance_get(workspace=workspace).balance == 30
    assert "Balance 30" in capsys.readouterr().out
    assert list(LedgerEntry.objects.values_list("reason", flat=True).order_by("id")) == ["x", "y"]


def test_grant_credits_with_a_reference_grants_once(workspace):
    args = ["--workspace", workspace.name, "--amount", "7", "--reason", "invoice"]
    call_command("grant_credits", *args, "--reference", "INV-1")
    call_command("grant_credits", *args, "--reference", "INV-1")
    assert balance_get(workspace=workspace).balance == 7


def test_grant_credits_refuses_bad_input(workspace):
    with pytest.raises(CommandError, match="No workspace"):
        call_command("grant_credits", "--workspace", "nope", "--amount", "1", "--reason", "r")
    with pytest.raises(CommandError, match="positive"):
        call_command(
            "grant_credits", "--workspace", workspace.name, "--amount", "0", "--reason", "r"
        )
