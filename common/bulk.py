"""Writing (and reading) many rows at once, set-based.

Django's `bulk_update` builds a `CASE WHEN id = … THEN …` expression per field with one branch
per row, and `bulk_create` turns every value into a query parameter that Django's client-side
cursor then quotes into the SQL text in Python. For the enrichment workers' per-chunk writes
(hundreds of items, leads, call records and cache entries at a time) that dominated a chunk's
time (see docs/benchmarks.md). On PostgreSQL these helpers stream the rows with COPY (encoded in
C by psycopg) — straight into the table, or into a temporary staging table joined by one
UPDATE or INSERT … ON CONFLICT — or, for a chunk's result write (rows_update_linked), pass them
as array parameters expanded by `unnest` in one statement. Elsewhere (the SQLite demo) they
fall back to Django's bulk methods. All of them run inside the caller's transaction (or their
own).
"""

import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, JSONField, Model, QuerySet
from psycopg.pq import Format


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(field: Field) -> str:
    """The column of a concrete field: only those are written here."""
    if field.column is None:
        raise TypeError(f"{field!r} has no database column")
    return field.column


def _field(model: type[Model], name: str) -> Field:
    """The model's concrete field `name` (not a reverse relation)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field


class JSONText(str):
    """A JSON column's value given already encoded, as its JSON text (a worker that builds the
    same JSON for thousands of rows encodes the parts they share once): written as it is,
    never encoded again as a JSON string."""


def _json_value(value: Any) -> Any:
    """The Python value of a JSON column's value (JSONText decoded), for Django's own writes."""
    return json.loads(value) if isinstance(value, JSONText) else value


# Field types whose Python values psycopg writes as they are: skipping Django's per-value
# get_db_prep_save for them halves the Python time of a COPY.
_AS_IS = {
    "AutoField", "BigAutoField", "BigIntegerField", "BooleanField", "CharField",
    "DateTimeField", "FloatField", "ForeignKey", "IntegerField", "PositiveBigIntegerField",
    "PositiveIntegerField", "PositiveSmallIntegerField", "SmallIntegerField", "TextField",
    "UUIDField",
}  # fmt: skip


def _converter(field: Field) -> Callable[[Any], Any]:
    if isinstance(field, JSONField):
        encoder = field.encoder

        # COPY's text format hands the text to jsonb's own input function.
        def to_text(value: Any) -> str | None:
            if value is None or isinstance(value, JSONText):
                return value
            return json.dumps(value, cls=encoder)

        return to_text
    if field.get_internal_type() in _AS_IS:
        return lambda value: value
    return lambda value: field.get_db_prep_save(value, connection)


def _copy(cursor: CursorWrapper, table: str, fields: Sequence[Field], objs: Iterable[Any]) -> None:
    """COPYs the fields of each object (a model instance or any object with those attributes:
    the workers' hot path uses plain rows, not model instances)."""
    attnames = [field.attname for field in fields]
    _copy_tuples(
        cursor,
        table,
        fields,
        ([getattr(obj, attname) for attname in attnames] for obj in objs),
    )


def _copy_tuples(
    cursor: CursorWrapper, table: str, fields: Sequence[Field], rows: Iterable[Sequence[Any]]
) -> None:
    """COPYs rows of values in `fields` order; only the values of fields psycopg cannot write
    as they are (JSON, …) are converted."""
    columns = ", ".join(_q(_column(field)) for field in fields)
    converted = [
        (i, _converter(field))
        for i, field in enumerate(fields)
        if field.get_internal_type() not in _AS_IS
    ]
    # psycopg's COPY bypasses Django's cursor: map its errors to django.db's as execute() does.
    with (
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        write = copy.write_row
        if not converted:
            for row in rows:
                write(row)
            return
        for row in rows:
            values = list(row)
            for i, convert in converted:
                values[i] = convert(values[i])
            write(values)


def _staging(cursor: CursorWrapper, model: type[Model], fields: Sequence[Field]) -> str:
    """An empty temporary table with these columns (types copied from the model's table),
    dropped at commit; reused, emptied, if this transaction already made it."""
    columns = ", ".join(_q(_column(field)) for field in fields)
    digest = hashlib.sha1(columns.encode()).hexdigest()[:8]  # noqa: S324 - a name, not a secret
    name = _q(f"stage_{model._meta.db_table}_{digest}")
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {name} ON COMMIT DROP AS "  # noqa: S608 - names are ours
        f"SELECT {columns} FROM {_q(model._meta.db_table)} WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {name}")
    return name


def rows_update(
    model: type[Model],
    objs: Sequence[Any],
    fields: Sequence[str],
    *,
    only_if: Mapping[str, Any] | None = None,
) -> set[Any]:
    """Saves `fields` of every object (by primary key): `bulk_update(objs, fields)`. With
    `only_if` (column values, e.g. a claim token), only the rows that still match them are
    written, in the same statement (they are locked and rechecked by it). Returns the primary
    keys of the rows written. Objects need not be model instances: anything with the fields as
    attributes (and `pk`) will do."""
    if not objs:
        return set()
    meta = model._meta
    if connection.vendor != "postgresql":
        return _rows_update_portable(model, objs, fields, only_if or {})
    columns = [meta.pk, *(_field(model, name) for name in fields)]
    table, pk = _q(meta.db_table), _q(_column(meta.pk))
    sets = ", ".join(f"{_q(_column(f))} = s.{_q(_column(f))}" for f in columns[1:])
    conditions = "".join(
        f" AND {table}.{_q(_column(_field(model, name)))} = %s" for name in (only_if or {})
    )
    with transaction.atomic(), connection.cursor() as cursor:
        stage = _staging(cursor, model, columns)
        _copy(cursor, stage, columns, objs)
        cursor.execute(
            f"UPDATE {table} SET {sets} FROM {stage} s "  # noqa: S608 - names are ours
            f"WHERE {table}.{pk} = s.{pk}{conditions} RETURNING {table}.{pk}",
            list((only_if or {}).values()),
        )
        return {row[0] for row in cursor.fetchall()}


def rows_update_linked(
    model: type[Model],
    objs: Sequence[Any],
    fields: Sequence[str],
    *,
    only_if: Mapping[str, Any],
    linked_model: type[Model],
    linked: Sequence[tuple[Any, Any]],
    linked_fields: Sequence[str],
) -> set[Any]:
    """rows_update(model, objs, fields, only_if=…) and, in the same statement, `linked_fields`
    of rows of another table: `linked` pairs an object's primary key with the row written
    with it, and only the rows whose object was written (still matched `only_if`) are. Returns
    the primary keys of the objects written.

    On PostgreSQL one statement, one round trip (two data-modifying CTEs), its rows passed
    as one array parameter per column and expanded by `unnest`: no staging table to create,
    empty, fill and drop per call, as rows_update does."""
    if not objs:
        return set()
    if connection.vendor != "postgresql":
        mine = rows_update(model, objs, fields, only_if=only_if)
        rows_update(linked_model, [row for pk, row in linked if pk in mine], linked_fields)
        return mine
    written = [model._meta.pk, *(_field(model, name) for name in fields)]
    source, params, keys = _unnest(written, objs)
    pk = _q(_column(model._meta.pk))
    # Each condition's value as a subquery's: PostgreSQL then estimates it by the column's
    # distinct values, not as the one literal its statistics never saw (a claim token is new,
    # every item still unclaimed when the table was analyzed): that estimate, one row, made
    # small tables' writes a sequential scan per slice (~130 ms a 500-item slice, not ~3 ms).
    conditions = ""
    for name in only_if:
        field = _field(model, name)
        conditions += f" AND t.{_q(_column(field))} = (SELECT %s::{_array_type(field)})"
    params.extend(only_if.values())
    sql = (
        f"WITH written AS (UPDATE {_q(model._meta.db_table)} AS t SET {_sets(written[1:])} "  # noqa: S608 - names are ours
        f"FROM {source} WHERE t.{pk} = s.{pk}{conditions} RETURNING t.{pk})"
    )
    if linked:
        linked_written = [linked_model._meta.pk, *(_field(linked_model, n) for n in linked_fields)]
        linked_source, linked_params, _ = _unnest(
            linked_written,
            [row for _, row in linked],
            link=(model._meta.pk, [pk for pk, _ in linked]),
        )
        linked_pk = _q(_column(linked_model._meta.pk))
        sql += (
            f", linked AS (UPDATE {_q(linked_model._meta.db_table)} AS t "  # noqa: S608
            f"SET {_sets(linked_written[1:])} FROM {linked_source} "
            f"JOIN written ON written.{pk} = s._link WHERE t.{linked_pk} = s.{linked_pk})"
        )
        params.extend(linked_params)
    # The keys written only when some were not (the usual answer is "all": one row, not one
    # per object).
    params.append(len(objs))
    with _binding_cursor() as cursor:
        cursor.execute(
            f"{sql} SELECT CASE WHEN count(*) = %s THEN NULL ELSE array_agg({pk}) END FROM written",  # noqa: S608
            params,
        )
        (written_keys,) = cursor.fetchone()
    if written_keys is None:
        return set(keys)
    return set(written_keys)


def _sets(fields: Sequence[Field]) -> str:
    return ", ".join(f"{_q(_column(f))} = s.{_q(_column(f))}" for f in fields)


def _array_type(field: Field) -> str:
    """The type of a column's array parameter: `text` for character columns, so that the
    assignment to the column checks the length (a cast to `varchar(n)[]` would cut values)."""
    db_type = field.db_type(connection) or "text"
    return "text" if db_type.startswith("varchar") else db_type


def _unnest(
    fields: Sequence[Field],
    objs: Sequence[Any],
    *,
    link: tuple[Field, Sequence[Any]] | None = None,
) -> tuple[str, list[Any], list[Any]]:
    """`(SELECT … FROM ROWS FROM (unnest(…), …)) AS s` over the fields of each object, its
    parameters, and the first field's values (the keys). One array per column, sent bound and
    in binary (quoting an array into the SQL text, as Django's cursor does, costs psycopg
    ~4 µs an element; this ~0.7 µs, in Python), except a column whose value is the same for
    every object (a slice's `finished_at`, the phone's columns of an email-only run), sent once
    as one value; a JSON column as one JSON array document (one `json.dumps` for all its
    values, not one each; JSONText values as they are). The first field (the key) and `link`
    are always arrays. With `link` (a field and a value per object), a first column `_link`
    holds those values."""
    get = operator.attrgetter(*(field.attname for field in fields))
    rows = [get(obj) for obj in objs] if len(fields) > 1 else [(get(obj),) for obj in objs]
    columns: list[list[Any]] = [list(column) for column in zip(*rows, strict=True)]
    keys = columns[0]
    selected, scalars = [], []  # the source's columns, and the parameters they hold
    # the unnested columns, their functions, their arrays (or JSON documents)
    names: list[str] = []
    functions: list[str] = []
    arrays: list[Any] = []
    if link is not None:
        link_field, values = link
        names.append("_link")
        functions.append(f"unnest(%b::{_array_type(link_field)}[])")
        arrays.append(list(values))
        selected.append("_link")
    for i, (field, values) in enumerate(zip(fields, columns, strict=True)):
        name = _q(_column(field))
        if isinstance(field, JSONField):
            names.append(name)
            functions.append("jsonb_array_elements(%s::jsonb)")
            arrays.append(_json_document(values, field.encoder))
            # A None in the document is JSON null: written as SQL NULL, as Django saves None.
            selected.append(f"NULLIF({name}, 'null') AS {name}")
            continue
        if field.get_internal_type() not in _AS_IS:
            convert = _converter(field)
            values = [convert(value) for value in values]
        array_type = _array_type(field)
        if i and values.count(values[0]) == len(values):
            selected.append(f"%b::{array_type} AS {name}")
            scalars.append(values[0])
            continue
        names.append(name)
        if i and array_type in _AS_JSON and (document := _json_array(values)) is not None:
            functions.append("json_array_elements_text(%s::json)")
            arrays.append(document)
            selected.append(name if array_type == "text" else f"{name}::{array_type} AS {name}")
            continue
        functions.append(f"unnest(%b::{array_type}[])")
        arrays.append(values)
        selected.append(name)
    source = (
        f"(SELECT {', '.join(selected)} FROM ROWS FROM ({', '.join(functions)}) "  # noqa: S608
        f"AS r({', '.join(names)})) AS s"
    )
    return source, scalars + arrays, keys


# Column types whose values go as one JSON array (json_array_elements_text) rather than a
# binary array: `json.dumps` encodes a list of strings or integers in C (~0.1 µs a value),
# psycopg's binary array dumper is Python per element (~0.7 µs); PostgreSQL parses either in
# well under a microsecond a value. The keys stay a binary array: its length is what the
# planner reads for the statement's row estimate (a JSON function's is a flat 100).
_AS_JSON = frozenset({"text", "smallint", "integer", "bigint"})


def _json_array(values: list[Any]) -> str | None:
    """The values as one JSON array, when each is a string, an integer (not a bool) or None:
    each becomes the text PostgreSQL parses back into the column's type. None otherwise (the
    caller sends a binary array, as for any other type)."""
    for kind in set(map(type, values)):  # a handful of types: str, an enum of str, None
        if not (kind is type(None) or (issubclass(kind, (str, int)) and kind is not bool)):
            return None
    return json.dumps(values, ensure_ascii=False)


def _json_document(values: Sequence[Any], encoder: type[json.JSONEncoder] | None) -> str:
    """One JSON array of a JSON column's values: JSONText as it is, the others encoded."""
    if not any(isinstance(value, JSONText) for value in values):
        return json.dumps(values, cls=encoder)
    return (
        "["
        + ", ".join(
            value if isinstance(value, JSONText) else json.dumps(value, cls=encoder)
            for value in values
        )
        + "]"
    )


def _binding_cursor() -> CursorWrapper:
    """A cursor of Django's connection that binds parameters on the server (psycopg's
    `Cursor`) instead of quoting them into the SQL text (Django's default `ClientCursor`):
    what `%b` array parameters need. Django's wrappers (errors, `execute_wrappers`, query
    logging) apply as to any cursor."""
    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)  # type: ignore[arg-type]  # any DB-API cursor
    return CursorWrapper(cursor, connection)


def _rows_update_portable(
    model: type[Model], objs: Sequence[Any], fields: Sequence[str], only_if: Mapping[str, Any]
) -> set[Any]:
    """rows_update through the ORM (the SQLite demo): the matching rows first, then theirs."""
    pk_name = model._meta.pk.attname
    with transaction.atomic():
        wanted = [getattr(obj, pk_name) for obj in objs]
        mine = set(
            model._default_manager.select_for_update()
            .filter(pk__in=wanted, **only_if)
            .values_list("pk", flat=True)
        )
        instances = [
            model(
                **{pk_name: getattr(obj, pk_name)},
                **{f: _json_value(getattr(obj, f)) for f in fields},
            )
            for obj in objs
            if getattr(obj, pk_name) in mine
        ]
        model._default_manager.bulk_update(instances, fields, batch_size=1000)
    return mine


def rows_insert(model: type[Model], objs: Sequence[Model]) -> None:
    """Inserts new rows (primary key from the database): `bulk_create(objs)` without
    returning ids."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs, batch_size=1000)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    with transaction.atomic(), connection.cursor() as cursor:
        _copy(cursor, _q(model._meta.db_table), fields, objs)


def rows_upsert(
    model: type[Model],
    objs: Sequence[Model],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
) -> None:
    """Inserts rows, or updates `update_fields` of the row with the same `unique_fields`:
    `bulk_create(objs, update_conflicts=True, …)`. Rows are written in `unique_fields` order so
    two writers with overlapping rows lock them in the same order. `objs` must not repeat a
    unique key."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            sorted(objs, key=lambda o: tuple(getattr(o, f) for f in unique_fields)),
            batch_size=1000,
            update_conflicts=True,
            unique_fields=unique_fields,
            update_fields=update_fields,
        )
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = ", ".join(_q(_column(f)) for f in fields)
    unique = ", ".join(_q(_column(_field(model, name))) for name in unique_fields)
    sets = ", ".join(
        f"{_q(column)} = EXCLUDED.{_q(column)}"
        for column in (_column(_field(model, name)) for name in update_fields)
    )
    with transaction.atomic(), connection.cursor() as cursor:
        stage = _staging(cursor, model, fields)
        _copy(cursor, stage, fields, objs)
        cursor.execute(
            f"INSERT INTO {_q(meta.db_table)} ({columns}) "  # noqa: S608 - names are ours
            f"SELECT {columns} FROM {stage} ORDER BY {unique} "
            f"ON CONFLICT ({unique}) DO UPDATE SET {sets}"
        )


def tuples_insert(model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Inserts rows given as tuples of `fields` values (primary key from the database): no
    model instance per row."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=1000
        )
        return
    concrete = [_field(model, name) for name in fields]
    # One statement: no savepoint of its own (two round trips), a caller that goes on after
    # its failure makes one.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        _copy_tuples(cursor, _q(model._meta.db_table), concrete, rows)


def tuples_upsert(
    model: type[Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
) -> None:
    """rows_upsert for rows given as tuples of `fields` values. Rows are written in
    `unique_fields` order (two writers lock overlapping rows in the same order); `rows` must
    not repeat a unique key."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        positions = [fields.index(name) for name in unique_fields]
        ordered = sorted(rows, key=lambda row: tuple(row[i] for i in positions))
        model._default_manager.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in ordered],
            batch_size=1000,
            update_conflicts=True,
            unique_fields=unique_fields,
            update_fields=update_fields,
        )
        return
    concrete = [_field(model, name) for name in fields]
    columns = ", ".join(_q(_column(f)) for f in concrete)
    unique = ", ".join(_q(_column(_field(model, name))) for name in unique_fields)
    sets = ", ".join(
        f"{_q(column)} = EXCLUDED.{_q(column)}"
        for column in (_column(_field(model, name)) for name in update_fields)
    )
    with transaction.atomic(), connection.cursor() as cursor:
        stage = _staging(cursor, model, concrete)
        _copy_tuples(cursor, stage, concrete, rows)
        cursor.execute(
            f"INSERT INTO {_q(model._meta.db_table)} ({columns}) "  # noqa: S608 - names are ours
            f"SELECT {columns} FROM {stage} ORDER BY {unique} "
            f"ON CONFLICT ({unique}) DO UPDATE SET {sets}"
        )


# psycopg's own timestamptz loader when its C implementation is installed (psycopg[binary] or
# [c]); None with the pure-Python one, which is what Django's loader already is.
_C_TIMESTAMPTZ = (
    None
    if psycopg.pq.__impl__ == "python"
    else psycopg.adapters.get_loader(psycopg.postgres.types["timestamptz"].oid, Format.TEXT)
)


def values_rows(rows: QuerySet) -> Iterator[tuple[Any, ...]]:
    """The tuples of a `values_list` queryset, as the ORM gives them (its own converters), but
    with timestamps parsed by psycopg's C loader: Django registers a subclass of psycopg's
    pure-Python loader, and parsing a chunk's timestamps in Python was about a tenth of a
    cache-hit chunk's CPU (docs/benchmarks.md). With USE_TZ both give the same aware values,
    in the session's time zone (which Django sets to the connection's)."""
    if not _c_timestamps():
        return iter(rows)
    compiler = rows.query.get_compiler(using=rows.db)
    sql, params = compiler.as_sql()
    fetched = statement_rows(sql, params)
    return compiler.results_iter(results=[fetched], tuple_expected=True)


def statement_rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows a statement returns, as psycopg loads them, timestamps by its C loader on
    PostgreSQL (values_rows): for columns the ORM has no converter for (no JSON)."""
    with connection.cursor() as cursor:
        if _c_timestamps():
            cursor.cursor.adapters.register_loader("timestamptz", _C_TIMESTAMPTZ)  # this cursor's
        cursor.execute(sql, params)
        return cursor.fetchall()


def _c_timestamps() -> bool:
    return connection.vendor == "postgresql" and settings.USE_TZ and _C_TIMESTAMPTZ is not None


def insert_defaults(model: type[Model], *, skip: Iterable[str]) -> tuple[list[str], list[Any]]:
    """Columns and database values for every field the raw INSERT does not set: the model's
    Python-side defaults (the tables have no database defaults)."""
    skipped = set(skip)
    columns: list[str] = []
    values: list[Any] = []
    for model_field in model._meta.concrete_fields:
        column = _column(model_field)
        if column in skipped or model_field.primary_key:
            continue
        columns.append(column)
        values.append(model_field.get_db_prep_save(model_field.get_default(), connection))
    return columns, values
