"""The database refuses UPDATE and DELETE on ledger entries, whoever issues them (ORM
querysets, raw SQL, a shell): corrections are new entries. TRUNCATE (test flushes) is not a
row operation and is unaffected."""

from django.db import migrations

_PG_UP = """
CREATE OR REPLACE FUNCTION credits_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'credits_ledgerentry is append-only: post a correcting entry instead';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER credits_ledger_append_only
    BEFORE UPDATE OR DELETE ON credits_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION credits_ledger_append_only();
"""
_PG_DOWN = """
DROP TRIGGER IF EXISTS credits_ledger_append_only ON credits_ledgerentry;
DROP FUNCTION IF EXISTS credits_ledger_append_only();
"""
_SQLITE_UP = [
    f"""CREATE TRIGGER credits_ledger_no_{op.lower()} BEFORE {op} ON credits_ledgerentry
    BEGIN SELECT RAISE(ABORT, 'credits_ledgerentry is append-only'); END;"""
    for op in ("UPDATE", "DELETE")
]
_SQLITE_DOWN = [f"DROP TRIGGER IF EXISTS credits_ledger_no_{op};" for op in ("update", "delete")]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
        for statement in [statements] if isinstance(statements, str) else statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("credits", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": _PG_UP, "sqlite": _SQLITE_UP}),
            _run({"postgresql": _PG_DOWN, "sqlite": _SQLITE_DOWN}),
        ),
    ]
