"""Terminal rendering shared by the user commands (`enrich --wait`, `watch`) and `demo`: the
progress line and the end-of-run summary.

A small own renderer rather than rich or tqdm: one line of text is all it draws, it needs no
new dependency, and it degrades to plain lines (printed when something changed) when stdout is
not a terminal, e.g. in CI logs or when piped to a file.
"""

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.core.management.base import OutputWrapper
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from credits.models import RefundStatus
from enrichment.models import ItemStatus, Workflow, WorkflowItem
from enrichment.selectors import is_terminal_status
from enrichment.serializers import WorkflowStatusSerializer
from enrichment.services.execution import OVER_BUDGET
from providers.base import DataPoint, EmailStatus, OutcomeKind
from providers.registry import is_sandbox
from providers.selectors import ProviderCallStats, provider_call_stats

BAR_WIDTH = 30


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_datetime(str(value))


def _rate(status: dict[str, Any]) -> float | None:
    """Leads per second since the run started (until it finished)."""
    started = _as_datetime(status.get("started_at"))
    if started is None or not status.get("processed"):
        return None
    ended = _as_datetime(status.get("finished_at")) or timezone.now()
    elapsed = (ended - started).total_seconds()
    return status["processed"] / elapsed if elapsed > 0 else None


def render_progress(status: dict[str, Any]) -> str:
    """One line: bar, percentage, leads done, emails and phones found, leads/s, credits.
    Takes the status document (enrichment.serializers.WorkflowStatusSerializer, as the API
    sends it)."""
    total, processed = status.get("total") or 0, status.get("processed") or 0
    percent = int(status.get("progress") or 0)
    filled = BAR_WIDTH * percent // 100
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    rate = _rate(status)
    credits = f"credits {status.get('credits_reserved', 0)} reserved"
    if is_terminal_status(status.get("status", "")):
        credits += (
            f", {status.get('credits_charged', 0)} charged, "
            f"{status.get('credits_refunded', 0)} refunded"
        )
    parts = [
        f"[{bar}] {percent:3d}%",
        f"{processed}/{total} leads",
        f"emails {status.get('found_emails', 0)}",
        f"phones {status.get('found_phones', 0)}",
        f"{rate:.0f} leads/s" if rate is not None else "- leads/s",
        credits,
        status.get("status", "?"),
    ]
    return " | ".join(parts)


class ProgressOutput(Protocol):
    """Where the progress line is drawn: a text stream or a management command's stdout."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


def _is_tty(out: ProgressOutput) -> bool:
    isatty = getattr(out, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _write_as_is(out: ProgressOutput, text: str) -> None:
    """Writes `text` without a line end: a management command's stdout (Django's OutputWrapper)
    ends every write with a newline, and a line redrawn in place must not move down."""
    if isinstance(out, OutputWrapper):
        out.write(text, ending="")
    else:
        out.write(text)


def watch_workflow(
    workflow_id: str, *, out: ProgressOutput, interval: float = 0.5, timeout: float | None = None
) -> dict[str, Any]:
    """Redraws the progress line every `interval` seconds until the workflow is terminal and
    returns its final status document. On a terminal the line is redrawn in place; otherwise a
    plain line is written whenever the numbers change. `timeout` (seconds) raises TimeoutError.
    Any workspace's workflow: this is an operator's and the workflow owner's local tool."""
    tty = _is_tty(out)
    deadline = None if timeout is None else time.monotonic() + timeout
    last = None
    while True:
        status = WorkflowStatusSerializer(Workflow.objects.get(pk=workflow_id)).data
        line = render_progress(status)
        if tty:
            _write_as_is(out, f"\r{line}\x1b[K")
            out.flush()
        elif line != last:
            out.write(line + "\n")
        last = line
        if is_terminal_status(status["status"]):
            if tty:
                out.write("\n")
            return status
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{workflow_id} still {status['status']} after {timeout} s")
        time.sleep(interval)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


# --- The end-of-run summary -------------------------------------------------------------------

DATA_POINT_LABELS: dict[str, str] = {
    DataPoint.EMAIL: "email",
    DataPoint.PHONE: "phone",
    DataPoint.COMPANY: "company",
    DataPoint.EMAIL_VERIFICATION: "verify",
}
SANDBOX_MARK = "[sandbox]"


@dataclass
class LeadFacts:
    """What the run's items say, lead by lead (their waterfall attempts included)."""

    answered_by_cache: int = 0  # leads the result cache answered alone, no provider called
    rejected_by_verifier: int = 0  # found emails the verifier called invalid
    rejected_by_finder: int = 0  # found emails their own finder flagged invalid
    verdicts: Counter[str] = field(default_factory=Counter)  # the verifier's, calls and cache
    over_budget: int = 0  # left out: the run's max_credits was spent
    held_the_data: int = 0  # skipped while the run went: another run had filled the lead
    from_sandbox: int = 0  # leads whose result a sandbox invented


def lead_facts(workflow: Workflow) -> LeadFacts:
    """Reads the run's items once, a batch at a time."""
    facts = LeadFacts()
    rows = (
        WorkflowItem.objects.filter(workflow=workflow)
        .values_list("status", "error", "provider", "attempts")
        .iterator(chunk_size=2000)
    )
    for status, error, provider, attempts in rows:
        if status == ItemStatus.SKIPPED:
            if error == OVER_BUDGET:
                facts.over_budget += 1
            else:
                facts.held_the_data += 1
            continue
        if status == ItemStatus.COMPLETED and provider and is_sandbox(provider):
            facts.from_sandbox += 1
        asked = [a for a in attempts or [] if a.get("outcome") != OutcomeKind.SKIPPED]
        if asked and all(a.get("cached") for a in asked):
            facts.answered_by_cache += 1
        for attempt in asked:
            if attempt.get("outcome") != OutcomeKind.FOUND:
                continue
            verdict = attempt.get("verdict")
            if attempt.get("data_point") == DataPoint.EMAIL_VERIFICATION:
                facts.verdicts[verdict or EmailStatus.UNKNOWN] += 1
                facts.rejected_by_verifier += verdict == EmailStatus.INVALID
            elif attempt.get("data_point") == DataPoint.EMAIL:
                facts.rejected_by_finder += verdict == EmailStatus.INVALID
    return facts


def _provider_label(row: ProviderCallStats) -> str:
    return row["provider"] + (f" {SANDBOX_MARK}" if is_sandbox(row["provider"]) else "")


def _data_point_label(row: ProviderCallStats) -> str:
    return DATA_POINT_LABELS.get(row["data_point"], row["data_point"])


def _is_verification(row: ProviderCallStats) -> bool:
    return row["data_point"] == DataPoint.EMAIL_VERIFICATION


def _provider_table(stats: list[ProviderCallStats]) -> list[str]:
    """One row per provider and data point: a provider that finds and verifies emails (the
    sandbox) has a lookup row and a verification row. `found` and `hit %` count cache hits
    too; a verification has verdicts instead (see the summary's verifications line)."""
    width = max(22, *(len(_provider_label(row)) + 2 for row in stats))
    lines = [
        f"  {'provider':<{width}}{'data':<8}{'calls':>7}{'cached':>8}{'found':>7}{'hit %':>8}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'errors':>8}"
    ]
    for row in stats:
        if _is_verification(row):
            found = hit_rate = "-"
        else:
            answers = row["found"] + row["not_found"] + row["cache_hits"]
            hits = row["found"] + row["cache_found"]
            found = str(hits)
            hit_rate = f"{100 * hits / answers:.1f}%" if answers else "-"
        lines.append(
            f"  {_provider_label(row):<{width}}{_data_point_label(row):<8}{row['calls']:>7}"
            f"{row['cache_hits']:>8}{found:>7}{hit_rate:>8}{_ms(row['p50_ms']):>8}"
            f"{_ms(row['p95_ms']):>8}{row['errors']:>8}"
        )
    return lines


def summary_table(workflow: Workflow) -> str:
    """The end-of-run summary: what was found, where the answers came from (provider lookups,
    the result cache, verifications), what was rejected or skipped and why, credits, and a
    row per provider and data point (from the provider calls tagged with the workflow id).
    Anything a sandbox invented is marked as such."""
    workflow.refresh_from_db()
    facts = lead_facts(workflow)
    stats = provider_call_stats(tag=workflow.pk, by_data_point=True)
    lookups = [row for row in stats if not _is_verification(row)]
    verifications = [row for row in stats if _is_verification(row)]
    lookup_calls = sum(row["calls"] for row in lookups)
    verify_calls = sum(row["calls"] for row in verifications)
    lookup_cached = sum(row["cache_hits"] for row in lookups)
    verify_cached = sum(row["cache_hits"] for row in verifications)
    processed = workflow.processed

    started, finished = workflow.started_at, workflow.finished_at
    header = f"Workflow {workflow.pk}: {workflow.status}"
    if started and finished:
        seconds = (finished - started).total_seconds()
        header += f" in {seconds:.1f} s"
        if seconds > 0 and processed:
            header += f" ({processed / seconds:.0f} leads/s)"
    if lookup_calls + verify_calls == 0 and lookup_cached + verify_cached > 0:
        header += ", served from the result cache: no provider was called"
    per_data_point: Counter[str] = Counter()
    for row in lookups:
        per_data_point[_data_point_label(row)] += row["calls"]
    by_kind = ", ".join(
        f"{label} {count}" for label, count in sorted(per_data_point.items()) if count
    )
    verdicts = ", ".join(
        f"{status} {facts.verdicts[status]}" for status in EmailStatus if facts.verdicts[status]
    )
    rows: list[tuple[str, object]] = [
        ("leads", f"{workflow.total} in the run, {processed} processed"),
        (
            "found",
            f"{workflow.completed} ({_percent(workflow.completed, workflow.total)}): "
            f"{workflow.found_emails} emails, {workflow.found_phones} phones",
        ),
        ("not found", workflow.not_found),
        ("errors", workflow.failed),
        (
            "rejected",
            f"{facts.rejected_by_verifier + facts.rejected_by_finder} found emails were invalid "
            f"(verifier {facts.rejected_by_verifier}, their finder {facts.rejected_by_finder}): "
            "not kept, not charged",
        ),
        (
            "had the data",
            f"{workflow.skipped_existing + facts.held_the_data} leads not looked up "
            f"({workflow.skipped_existing} left out when the run was planned)",
        ),
        ("cap-skipped", f"{facts.over_budget} leads not looked up: the max-credits cap was spent"),
    ]
    if workflow.cancelled:
        rows.append(("cancelled", workflow.cancelled))
    rows += [
        (
            "lookups",
            f"{lookup_calls} provider calls" + (f" ({by_kind})" if by_kind else ""),
        ),
        (
            "cache hits",
            f"{lookup_cached + verify_cached} answers reused from the result cache, free "
            f"({lookup_cached} lookups, {verify_cached} verifications)",
        ),
        (
            "from the cache",
            f"{facts.answered_by_cache} of {processed} leads answered by the cache alone"
            + (
                ": earlier runs' answers, repeated for free"
                if processed and facts.answered_by_cache == processed
                else ""
            ),
        ),
        (
            "verifications",
            f"{verify_calls} provider calls, {verify_cached} from the cache"
            + (f": {verdicts}" if verdicts else ""),
        ),
        ("credits reserved", workflow.credits_reserved),
        ("credits charged", workflow.credits_charged),
        ("credits refunded", workflow.credits_refunded),
    ]
    if workflow.refund_status == RefundStatus.PENDING_REVIEW:
        rows.append(("refund", "the unused reservation awaits an operator's review"))
    if workflow.error:
        rows.append(("error", workflow.error))
    sandbox_finders = sorted({row["provider"] for row in lookups if is_sandbox(row["provider"])})
    if sandbox_finders:
        rows.append(
            (
                "sandbox",
                f"{facts.from_sandbox} leads hold data a sandbox invented "
                f"({', '.join(sandbox_finders)}): test data, not real contacts",
            )
        )
    if any(is_sandbox(row["provider"]) for row in verifications):
        rows.append(("sandbox verifier", "the email statuses were invented by the sandbox too"))
    lines = [header, *(f"  {label:<20} {value}" for label, value in rows)]
    if stats:
        lines += ["", *_provider_table(stats)]
    return "\n".join(lines)
