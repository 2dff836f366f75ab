import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import OutputWrapper
from django.utils import timezone

from credits.models import Hold
from credits.services import credits_grant
from enrichment.models import Workflow, WorkflowItem
from enrichment.serializers import WorkflowStatusSerializer
from enrichment.services.execution import OVER_BUDGET
from enrichment.waterfall import person_input
from leads.models import ListMembership
from ops.cli import render_progress, summary_table, watch_workflow
from providers.base import EmailStatus, OutcomeKind
from providers.registry import build_provider
from tests.enrichment.conftest import assert_settled, wait_terminal
from tests.leads.factories import LeadFactory, LeadListFactory
from tests.ops.factories import ProviderCallFactory, WorkflowFactory


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _status(**overrides) -> dict:
    base = {
        "status": "running", "progress": 40, "total": 1000, "processed": 400,
        "found_emails": 230, "found_phones": 12, "credits_reserved": 1000,
        "credits_charged": 0, "credits_refunded": 0,
        "started_at": timezone.now() - timedelta(seconds=4), "finished_at": None,
    }  # fmt: skip
    return {**base, **overrides}


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- rendering --------------------------------------------------------------------------------


def test_render_progress_shows_bar_counts_rate_and_credits():
    line = render_progress(_status())

    assert "[############------------------]  40%" in line
    assert "400/1000 leads" in line
    assert "emails 230" in line
    assert "phones 12" in line
    assert "100 leads/s" in line
    assert "credits 1000 reserved" in line
    assert "charged" not in line


def test_render_progress_terminal_shows_settlement_and_accepts_iso_dates():
    started = timezone.now() - timedelta(seconds=10)
    finished = started + timedelta(seconds=5)
    status = _status(
        status="completed", progress=100, processed=1000, credits_charged=600,
        credits_refunded=400, started_at=started.isoformat(), finished_at=finished.isoformat(),
    )  # fmt: skip

    line = render_progress(status)

    assert "[##############################] 100%" in line
    assert "200 leads/s" in line
    assert "600 charged, 400 refunded" in line
    assert line.endswith("completed")


def test_render_progress_before_start_has_no_rate():
    line = render_progress(_status(status="pending", progress=0, processed=0, started_at=None))

    assert "- leads/s" in line
    assert "0/1000 leads" in line


@pytest.mark.django_db
def test_watch_workflow_plain_lines_when_not_a_tty(workspace):
    workflow = WorkflowFactory(workspace=workspace, status="completed", total=3, processed=3)
    out = io.StringIO()

    status = watch_workflow(workflow.pk, out=out, interval=0.01)

    assert status["status"] == "completed"
    text = out.getvalue()
    assert "\r" not in text
    assert "\x1b" not in text
    assert text.count("\n") == 1
    assert "3/3 leads" in text


@pytest.mark.django_db
def test_watch_workflow_redraws_in_place_on_a_tty(workspace):
    workflow = WorkflowFactory(workspace=workspace, status="completed", total=3, processed=3)
    out = Terminal()

    watch_workflow(workflow.pk, out=out, interval=0.01)

    assert out.getvalue().startswith("\r[")
    assert "\x1b[K" in out.getvalue()


@pytest.mark.django_db
def test_watch_workflow_redraws_in_place_through_a_commands_stdout(workspace):
    # given a management command's stdout (which ends every write with a newline) on a terminal
    workflow = WorkflowFactory(workspace=workspace, status="completed", total=3, processed=3)
    terminal = Terminal()

    watch_workflow(workflow.pk, out=OutputWrapper(terminal), interval=0.01)

    # then the progress line is redrawn in place and ended once, when the run is over
    text = terminal.getvalue()
    assert text.startswith("\r[")
    assert text.count("\n") == 1
    assert text.endswith("\x1b[K\n")


@pytest.mark.django_db
def test_watch_workflow_times_out_on_a_running_workflow(workspace):
    workflow = WorkflowFactory(workspace=workspace, status="running", total=3, processed=1)

    with pytest.raises(TimeoutError):
        watch_workflow(workflow.pk, out=io.StringIO(), interval=0.01, timeout=0.05)


@pytest.mark.django_db
def test_summary_table_found_percent_providers_and_credits(workspace):
    # given a finished run and its tagged provider calls (and another run's call)
    workflow = WorkflowFactory(
        workspace=workspace, status="completed", total=10, processed=10, completed=6,
        not_found=4, found_emails=6, found_phones=2, credits_reserved=10,
        credits_charged=6, credits_refunded=4,
    )  # fmt: skip
    for ms in (10, 20, 30, 40):
        ProviderCallFactory(provider="hunter", latency_ms=ms, tag=workflow.pk)
    ProviderCallFactory(provider="hunter", outcome="not_found", latency_ms=50, tag=workflow.pk)
    ProviderCallFactory(provider="pdl", latency_ms=999, tag="another-workflow")

    table = summary_table(workflow)

    assert "  found                6 (60.0 %): 6 emails, 2 phones\n" in table
    assert "  not found            4\n" in table
    assert "  credits reserved     10\n  credits charged      6\n  credits refunded     4" in table
    hunter = next(line for line in table.splitlines() if line.strip().startswith("hunter"))
    assert hunter.split() == ["hunter", "email", "5", "0", "4", "80.0%", "30", "48", "0"]
    assert "pdl" not in table
    assert "sandbox" not in table  # no sandbox took part


# --- commands ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_estimate_prints_rows_cost_and_a_quote(workspace):
    credits_grant(workspace=workspace, amount=50, reason="test", reference="cli-e")
    lead_list = LeadListFactory(workspace=workspace, name="Prospects", lead_count=7)

    text = _run("estimate", "--workspace", workspace.name, "--list", "prospects")

    assert f"List 'Prospects' ({lead_list.pk}), partial" in text
    assert "leads              7" in text
    assert "to enrich          7" in text
    assert "estimated cost     7 credits" in text
    assert "available          50 credits" in text
    assert "sufficient         yes" in text
    assert "quote              qte_" in text


@pytest.mark.django_db
def test_estimate_by_list_id_phone_scope_insufficient(workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=2)

    text = _run(
        "estimate", "--workspace", str(workspace.pk), "--list", str(lead_list.pk),
        "--scope", "phone-only",
    )  # fmt: skip

    assert "phone_only" in text
    assert "estimated cost     20 credits" in text
    assert "sufficient         NO" in text


@pytest.mark.django_db
def test_estimate_unknown_list_or_scope_is_a_command_error(workspace, other_workspace):
    other = LeadListFactory(workspace=other_workspace, name="Theirs", lead_count=1)
    LeadListFactory(workspace=workspace, name="Mine", lead_count=1)

    with pytest.raises(CommandError, match="No list"):
        _run("estimate", "--workspace", workspace.name, "--list", str(other.pk))
    with pytest.raises(CommandError, match="Unknown type"):
        _run("estimate", "--workspace", workspace.name, "--list", "Mine", "--scope", "gold")


@pytest.mark.django_db
def test_enrich_without_wait_starts_a_bulk_run_with_a_hold(workspace, redis_client):
    credits_grant(workspace=workspace, amount=100, reason="test", reference="cli-s")
    lead_list = LeadListFactory(workspace=workspace, name="Go", lead_count=5)

    text = _run("enrich", "--workspace", workspace.name, "--list", "Go", "--max-credits", "3")

    workflow = Workflow.objects.get(workspace=workspace)
    assert workflow.kind == "bulk"
    assert workflow.lead_list_id == lead_list.pk
    assert workflow.credits_reserved == 3
    assert workflow.max_credits == 3
    assert Hold.objects.get(pk=workflow.hold_id).amount == 3
    assert f"Started {workflow.pk}: 5 leads of 'Go', 3 credits reserved" in text
    assert f"manage.py watch {workflow.pk}" in text


@pytest.mark.django_db
def test_enrich_without_credits_is_a_command_error_and_starts_nothing(workspace):
    LeadListFactory(workspace=workspace, name="Broke", lead_count=2)

    with pytest.raises(CommandError, match="credits"):
        _run("enrich", "--workspace", workspace.name, "--list", "Broke")

    assert not Workflow.objects.filter(workspace=workspace).exists()


@pytest.mark.django_db
def test_watch_unknown_workflow_is_a_command_error():
    with pytest.raises(CommandError, match="No workflow"):
        _run("watch", "bulk-enrich-nope")


@pytest.mark.django_db
def test_watch_finished_workflow_prints_progress_then_summary(workspace):
    workflow = WorkflowFactory(
        workspace=workspace, status="completed", total=4, processed=4, completed=2,
        not_found=2, found_emails=2, credits_reserved=4, credits_charged=2, credits_refunded=2,
    )  # fmt: skip

    text = _run("watch", workflow.pk)

    assert "4/4 leads" in text
    assert f"Workflow {workflow.pk}: completed" in text
    assert "  credits reserved     4\n  credits charged      2\n  credits refunded     2" in text


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_enrich_wait_runs_to_the_end_with_a_real_worker(workspace, ops_worker):
    # given a funded workspace and a list of 40 leads
    credits_grant(workspace=workspace, amount=1000, reason="test", reference="cli-w")
    LeadListFactory(workspace=workspace, name="Live", lead_count=40)

    # when
    text = _run(
        "enrich", "--workspace", workspace.name, "--list", "Live", "--scope", "full",
        "--wait", "--interval", "0.1",
    )  # fmt: skip

    # then the run settled and the output shows progress lines then the summary
    workflow = wait_terminal(Workflow.objects.get(workspace=workspace).pk)
    assert workflow.status == "completed"
    assert_settled(workflow)
    final = WorkflowStatusSerializer(workflow).data
    assert render_progress(final) in text
    assert "40/40 leads" in text
    assert f"Workflow {workflow.pk}: completed" in text
    assert f"  credits charged      {workflow.credits_charged}\n" in text
    assert f"  credits refunded     {workflow.credits_refunded}\n" in text
    assert "sandbox [sandbox]" in text.split("\n  provider", 1)[1]


# --- the summary of real runs -----------------------------------------------------------------


def _line(text: str, label: str) -> str:
    """The summary line with this label (the last one: a re-run's summary comes second)."""
    return [line for line in text.splitlines() if line.startswith(f"  {label:<20} ")][-1]


def _table_row(text: str, provider: str, data_point: str) -> list[str]:
    table = text.rsplit("\n  provider", 1)[1]
    rows = [line.split() for line in table.splitlines()[1:] if line.strip()]
    return next(row for row in rows if row[0] == provider and data_point in row)


def _expected_from_the_sandbox(leads) -> tuple[int, int]:
    """(emails kept, emails rejected) as the sandbox answers these leads, asked directly."""
    sandbox = build_provider("sandbox")
    kept = rejected = 0
    for lead in leads:
        found = sandbox.find_email(person_input(lead))
        if found.kind != OutcomeKind.FOUND:
            continue
        if sandbox.verify_email(found.value).verdict == EmailStatus.INVALID:
            rejected += 1
        else:
            kept += 1
    return kept, rejected


def _enrich_wait(workspace, list_name: str, *extra: str) -> str:
    return _run(
        "enrich", "--workspace", workspace.name, "--list", list_name, "--wait",
        "--interval", "0.1", *extra,
    )  # fmt: skip


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_summary_separates_lookups_from_verifications_and_counts_rejections(workspace, ops_worker):
    # given a list of people whose names the sandbox (finder and verifier) answers predictably
    credits_grant(workspace=workspace, amount=1000, reason="test", reference="cli-v")
    lead_list = LeadListFactory(workspace=workspace, name="Verified")
    # (every field the sandbox reads is given: the factory's sequences depend on the tests run
    # before in this process)
    leads = [
        LeadFactory(
            workspace=workspace, first_name=f"Ann{i}", last_name="Lee", company_name="Acme",
            domain="verified.example.com", linkedin_url=f"https://www.linkedin.com/in/ann{i}-lee",
        )
        for i in range(60)
    ]  # fmt: skip
    ListMembership.objects.bulk_create(ListMembership(lead_list=lead_list, lead=x) for x in leads)
    kept, rejected = _expected_from_the_sandbox(leads)
    assert rejected > 0  # the names are chosen so that the verifier rejects some

    # when
    text = _enrich_wait(workspace, "Verified")

    # then the sandbox's lookups and its verdicts are two rows, not one
    workflow = wait_terminal(Workflow.objects.get(workspace=workspace).pk)
    assert workflow.found_emails == kept
    lookup = _table_row(text, "sandbox", "email")
    verify = _table_row(text, "sandbox", "verify")
    assert lookup == ["sandbox", "[sandbox]", "email", "60", "0", str(kept + rejected),
                      lookup[6], *lookup[7:]]  # fmt: skip
    assert verify[:7] == ["sandbox", "[sandbox]", "verify", str(kept + rejected), "0", "-", "-"]
    # and the rejected emails have their own line, and the verdicts theirs
    assert _line(text, "rejected").split()[1:6] == [
        str(rejected), "found", "emails", "were", "invalid",
    ]  # fmt: skip
    assert f"invalid {rejected}" in _line(text, "verifications")
    assert _line(text, "lookups").split()[1:3] == ["60", "provider"]
    # and what the sandbox invented is marked as such
    assert f"{workflow.completed} leads hold data a sandbox invented" in _line(text, "sandbox")
    assert "invented by the sandbox too" in _line(text, "sandbox verifier")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_summary_of_a_rerun_says_it_was_served_from_the_cache(workspace, ops_worker):
    # given a list enriched once
    credits_grant(workspace=workspace, amount=1000, reason="test", reference="cli-r")
    LeadListFactory(workspace=workspace, name="Again", lead_count=40)
    first = _enrich_wait(workspace, "Again")
    assert "served from the result cache" not in first

    # when it is enriched again: only the leads still without an email are in the run
    second = _enrich_wait(workspace, "Again")

    # then every answer came from the cache, and the summary says so line by line
    rerun = Workflow.objects.filter(workspace=workspace).order_by("-created_at").first()
    leads = rerun.total
    assert 0 < leads < 40
    assert "served from the result cache: no provider was called" in second
    assert _line(second, "lookups").split()[1:3] == ["0", "provider"]
    assert _line(second, "verifications").split()[1:3] == ["0", "provider"]
    cache_hits = int(_line(second, "cache hits").split()[2])
    assert cache_hits >= leads
    assert _line(second, "from the cache").split()[3:6] == [str(leads), "of", str(leads)]
    assert _line(second, "found").split()[1] == "0"
    assert _table_row(second, "sandbox", "email")[3:5] == ["0", str(leads)]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_summary_counts_leads_the_max_credits_cap_skipped_on_their_own_line(workspace, ops_worker):
    # given 20 leads and a cap of 5 credits (an email costs 1)
    credits_grant(workspace=workspace, amount=1000, reason="test", reference="cli-c")
    LeadListFactory(workspace=workspace, name="Capped", lead_count=20)

    # when
    text = _enrich_wait(workspace, "Capped", "--max-credits", "5")

    # then the leads the cap left out are counted apart from those that had the data
    workflow = wait_terminal(Workflow.objects.get(workspace=workspace).pk)
    over_budget = WorkflowItem.objects.filter(
        workflow=workflow, status="skipped", error=OVER_BUDGET
    ).count()
    assert over_budget == 15
    assert _line(text, "cap-skipped").split()[1:4] == ["15", "leads", "not"]
    assert _line(text, "had the data").split()[3] == "0"
    assert _line(text, "lookups").split()[1] == "5"


@pytest.mark.django_db
def test_enrich_insufficient_credits_reads_as_words_not_a_dict(workspace):
    LeadListFactory(workspace=workspace, name="Short", lead_count=3)
    credits_grant(workspace=workspace, amount=1, reason="test", reference="cli-i")

    with pytest.raises(CommandError) as raised:
        _run("enrich", "--workspace", workspace.name, "--list", "Short")

    message = str(raised.value)
    assert "(required: 3, balance: 1)" in message
    assert "{" not in message
