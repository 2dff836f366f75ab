import csv

import pytest
from django.core.management import CommandError, call_command

from leads.models import Lead, LeadList

pytestmark = pytest.mark.django_db


def test_import_csv_and_export_csv_commands_round_trip(workspace, tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text("Name,E-mail\nAda Lovelace,ada@x.example\nNobody,\n")
    call_command("import_csv", str(source), "--workspace", workspace.name, "--list", "Demo")
    out = capsys.readouterr().out
    assert "new leads          1" in out
    assert "missing_identity" in out
    lead_list = LeadList.objects.get(workspace=workspace, name="Demo")
    assert lead_list.leads.count() == 1
    # importing again reuses the list (case-insensitive) and matches the lead
    call_command("import_csv", str(source), "--workspace", str(workspace.id), "--list", "demo")
    assert "matched existing   1" in capsys.readouterr().out
    assert Lead.objects.count() == 1
    target = tmp_path / "out.csv"
    call_command(
        "export_csv", "--workspace", workspace.name, "--list", "Demo", "--output", str(target)
    )
    rows = list(csv.DictReader(target.open()))
    assert [(r["full_name"], r["email"]) for r in rows] == [("Ada Lovelace", "ada@x.example")]


def test_import_csv_command_errors(workspace, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_csv", "/nope.csv", "--workspace", workspace.name, "--list", "L")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CommandError, match="empty"):
        call_command("import_csv", str(empty), "--workspace", workspace.name, "--list", "L")
    with pytest.raises(CommandError, match="No list"):
        call_command(
            "export_csv", "--workspace", workspace.name, "--list", "Nope", "--output", "/tmp/x"
        )


def test_export_csv_command_unknown_column_reads_as_words(workspace, tmp_path):
    LeadList.objects.create(workspace=workspace, name="Cols")

    with pytest.raises(CommandError) as raised:
        call_command(
            "export_csv", "--workspace", workspace.name, "--list", "Cols",
            "--output", str(tmp_path / "x.csv"), "--columns", "nope",
        )  # fmt: skip

    message = str(raised.value)
    assert message.startswith("The request is not valid. (columns: Unknown column(s): nope.")
    assert "{" not in message
