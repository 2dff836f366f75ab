"""The database floor: what PostgreSQL needs for a run's per-lead writes when they are done
set-based, measured on a scratch database in the same run as the figure it divides.

A bulk run writes four things per lead: its item (status, result, attempts), the lead (what was
found), a provider call record and a result-cache entry. Done as four set-based statements over
`rows` rows (no Python per row, no round trip per chunk), they take the time printed here; a
run's time divided by it reads the same on a quiet and on a busy machine, where absolute
seconds do not.

The scratch database is a copy of the benchmark's freshly migrated one (`<db>_floor`, created
from it as a template, so the same tables, indexes and constraints); it is filled with `rows`
leads and items (not timed), then each statement runs and commits on its own, timed.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg

_ATTEMPTS = (
    '[{"provider": "sandbox", "data_point": "email", "outcome": "found", "ms": 0, "cost": 1.0, '
    '"cached": false, "provider_status": "found", "verdict": null, "cache_entry_id": null}, '
    '{"provider": "sandbox", "data_point": "email_verification", "outcome": "found", "ms": 0, '
    '"cost": 1.0, "cached": false, "provider_status": "valid", "verdict": "valid", '
    '"cache_entry_id": null}]'
)

STATEMENTS = {
    "update items": (
        "UPDATE enrichment_workflowitem SET status = 'completed', "
        "email = 'person' || id || '@company.example', email_status = 'valid', "
        "email_confidence = 80, provider = 'sandbox', attempts = %(attempts)s::jsonb, "
        "error = '', credits_charged = 1, finished_at = now() WHERE workflow_id = %(workflow)s"
    ),
    "update leads": (
        "UPDATE leads_lead SET email = 'person.' || last_name || '@company.example', "
        "email_status = 'valid', email_confidence = 80, provider = 'sandbox', "
        "email_source = 'sandbox', email_found_at = now(), email_workflow_id = %(workflow)s, "
        "email_verifier = 'sandbox', enriched_at = now() WHERE workspace_id = %(workspace)s"
    ),
    "insert call records": (
        "INSERT INTO providers_providercall (provider, data_point, outcome, latency_ms, cost, "
        "cached, provider_status, tag, created_at, accepted, email_status, opens_lookup, step, "
        "workspace_id) "
        "SELECT 'sandbox', 'email', 'found', 0, 1.0, false, 'found', %(workflow)s, now(), true, "
        "'valid', true, 0, %(workspace)s "
        "FROM generate_series(1, %(rows)s)"
    ),
    "upsert cache entries": (
        "INSERT INTO providers_resultcacheentry (provider, data_point, identity_key, kind, value, "
        "confidence, verdict, provider_status, created_at, expires_at) "
        "SELECT 'sandbox', 'email', md5(i::text)::uuid, 'found', "
        "to_jsonb('person' || i || '@company.example'), 80, '', 'found', now(), "
        "now() + interval '30 days' FROM generate_series(1, %(rows)s) AS i "
        "ORDER BY 3 "
        "ON CONFLICT (identity_key, provider, data_point) DO UPDATE SET kind = EXCLUDED.kind, "
        "value = EXCLUDED.value, confidence = EXCLUDED.confidence, verdict = EXCLUDED.verdict, "
        "provider_status = EXCLUDED.provider_status, created_at = EXCLUDED.created_at, "
        "expires_at = EXCLUDED.expires_at"
    ),
}


@dataclass
class Floor:
    rows: int
    seconds: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def text(self) -> str:
        parts = ", ".join(f"{name} {s:.2f}" for name, s in self.seconds.items())
        return f"{self.total:.2f} s for {self.rows:,} rows ({parts})"


def floor_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_floor"))


def floor_database_create(database_url: str) -> None:
    """`<db>_floor` as a copy of the (just migrated, not yet connected) benchmark database."""
    parts = urlsplit(database_url)
    source = parts.path.strip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{source}_floor" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{source}_floor" TEMPLATE "{source}"')


_EMPTY = {"jsonb": "'{}'", "boolean": "false", "uuid": "gen_random_uuid()"}


def _filler(conn: psycopg.Connection, table: str, given: list[str]) -> tuple[str, str]:
    """The columns of `table` a row must have besides `given` (NOT NULL without a default:
    each migration may add one, as the provenance fields did) and an empty value for each, so
    the fill keeps working as the schema grows: ", col, …" and ", value, …"."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
        "AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO' "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    missing = [(name, kind) for name, kind in rows if name not in given]
    values = []
    for _, kind in missing:
        if kind in _EMPTY:
            values.append(_EMPTY[kind])
        elif "timestamp" in kind or kind == "date":
            values.append("now()")
        elif kind in ("integer", "smallint", "bigint", "numeric", "double precision", "real"):
            values.append("0")
        else:
            values.append("''")
    return "".join(f", {name}" for name, _ in missing), "".join(f", {v}" for v in values)


def _insert(
    conn: psycopg.Connection, table: str, columns: str, select: str, params: list, source: str = ""
) -> None:
    """INSERT INTO table (columns, …every other required column) SELECT select, …empties
    [FROM source]."""
    extra_columns, extra_values = _filler(conn, table, [c.strip() for c in columns.split(",")])
    conn.execute(
        f"INSERT INTO {table} ({columns}{extra_columns}) SELECT {select}{extra_values} {source}",
        params,
    )


def _fill(conn: psycopg.Connection, rows: int) -> tuple[str, str]:
    """A workspace with `rows` leads and a workflow with an item per lead; returns their ids."""
    workspace, workflow = str(uuid.uuid4()), f"bulk-enrich-floor-{uuid.uuid4().hex[:12]}"
    _insert(
        conn,
        "accounts_workspace",
        "id, name, tier, created_at, updated_at",
        "%s, %s, 'free', now(), now()",
        [workspace, f"floor {workflow}"],
    )
    _insert(
        conn,
        "leads_lead",
        "id, workspace_id, identity_key, first_name, last_name, full_name, title, company_name, "
        "domain, industry, location, linkedin_url, email, email_status, phone, provider, extra, "
        "created_at, updated_at",
        "gen_random_uuid(), %s, 'li:person-' || i, 'Ada', 'Lovelace' || i, "
        "'Ada Lovelace' || i, 'CEO', 'Company ' || i %% 20000, 'company' || i %% 20000 || "
        "'.example', '', '', 'linkedin.com/in/person-' || i, NULL, '', NULL, '', '{}', now(), "
        "now()",
        [workspace, rows],
        "FROM generate_series(1, %s) AS i",
    )
    _insert(
        conn,
        "enrichment_workflow",
        "id, workspace_id, kind, status, enrichment_type, output, total, processed, completed, "
        "not_found, failed, skipped, cancelled, found_emails, found_phones, skipped_existing, "
        "planned, chunk_count, credits_reserved, credits_charged, credits_refunded, "
        "budget_claimed, refund_status, error, deadline, created_at, updated_at",
        "%s, %s, 'bulk', 'running', 'partial', 'skip_existing', %s, 0, 0, 0, 0, 0, 0, 0, 0, 0, "
        "true, 0, 0, 0, 0, 0, 'not_applicable', '', now() + interval '1 day', now(), now()",
        [workflow, workspace, rows],
    )
    _insert(
        conn,
        "enrichment_workflowitem",
        "workflow_id, lead_id, chunk_no, status, claim_token, claimed_at, email, email_status, "
        "phone, provider, attempts, error, credits_charged",
        "%s, id, (row_number() OVER (ORDER BY id) - 1) / 500, 'running', 'token', now(), '', "
        "'', '', '', '[]', '', 0",
        [workflow, workspace],
        "FROM leads_lead WHERE workspace_id = %s",
    )
    return workspace, workflow


def db_floor(database_url: str, rows: int) -> Floor:
    """Fills the scratch database and times the four set-based statements over `rows` rows."""
    with psycopg.connect(floor_url(database_url), autocommit=True) as conn:
        workspace, workflow = _fill(conn, rows)
        conn.execute("VACUUM ANALYZE")
        params = {"attempts": _ATTEMPTS, "workflow": workflow, "workspace": workspace, "rows": rows}
        seconds = {}
        for name, sql in STATEMENTS.items():
            started = time.perf_counter()
            with conn.transaction():
                conn.execute(sql, params)
            seconds[name] = time.perf_counter() - started
        # Leave the scratch database as it was for the next measurement of this run.
        conn.execute("DELETE FROM providers_resultcacheentry")
        conn.execute("DELETE FROM providers_providercall")
        conn.execute("DELETE FROM enrichment_workflowitem")
        conn.execute("DELETE FROM enrichment_workflow")
        conn.execute("DELETE FROM leads_lead")
        conn.execute("DELETE FROM accounts_workspace")
        conn.execute("VACUUM")
    return Floor(rows=rows, seconds=seconds)
