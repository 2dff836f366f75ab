"""Writing many rows' fields in one statement.

Django's `bulk_update` builds a `CASE WHEN id = … THEN …` expression per field with one branch
per row: for a 500-row chunk that is thousands of expression objects to resolve and a very long
SQL text to send and parse, and it dominated a chunk's time (bench/profile_chunk.py: 20 s of
26 s for 5,000 leads). On PostgreSQL we send one array per column instead and join on
`unnest(...)`: the statement text is the same whatever the row count. Elsewhere (the SQLite
demo) Django's `bulk_update` is fine.
"""

import json
from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def rows_update(model: type[Model], objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Saves `fields` of every object in `objs` (by primary key), inside the caller's
    transaction. Same effect as `model.objects.bulk_update(objs, fields)`."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields, batch_size=1000)
        return
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    arrays, casts, sets = [], [], []
    for position, field in enumerate(columns):
        column = connection.ops.quote_name(field.column)
        values = [getattr(obj, field.attname) for obj in objs]
        if field.get_internal_type() == "JSONField":
            # Sent as text and cast per row: psycopg adapts a list of JSON documents ambiguously.
            encoder = field.encoder
            arrays.append([None if v is None else json.dumps(v, cls=encoder) for v in values])
            casts.append("text[]")
            value = f"v.{column}::jsonb"
        else:
            arrays.append([field.get_db_prep_save(v, connection) for v in values])
            casts.append(f"{field.db_type(connection)}[]")
            value = f"v.{column}"
        if position:
            sets.append(f"{column} = {value}")
    names = ", ".join(connection.ops.quote_name(field.column) for field in columns)
    pk = connection.ops.quote_name(meta.pk.column)
    unnest = ", ".join(f"%s::{cast}" for cast in casts)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {', '.join(sets)} "  # noqa: S608 - names are ours
            f"FROM unnest({unnest}) AS v({names}) WHERE {table}.{pk} = v.{pk}",
            arrays,
        )
