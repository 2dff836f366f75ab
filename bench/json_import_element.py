"""JSON-array import reader: time to read one large element, by size.

    python bench/json_import_element.py [--sizes 16 32 64]

Each file is a JSON array holding one object whose `notes` value is N MB, read through the
import reader (`leads.imports.readers.read_rows`, as `POST /lead-lists/{id}/import` reads a
body). First with the per-record cap lifted, so the whole element is parsed: a linear reader
takes about twice as long for twice the size. Then with the default cap, where the element is
refused as a row error after reading just past the cap. Each figure is the best of three
reads. Needs no database; prints figures, asserts nothing.
"""

import argparse
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from leads.imports import readers  # noqa: E402


def single_element_array(megabytes: int) -> bytes:
    return b'[{"email": "big@x.example", "notes": "' + b"x" * (megabytes << 20) + b'"}]'


def read_seconds(content: bytes, *, max_record_chars: int) -> tuple[float, int, list[str]]:
    """The best of three reads (the machine is shared), the rows read and the row errors."""
    best = float("inf")
    for _ in range(3):
        errors: list[readers.RowError] = []
        started = time.perf_counter()
        rows = readers.read_rows(
            io.BytesIO(content),
            file_format=None,
            column_mapping=None,
            errors=errors,
            max_record_chars=max_record_chars,
        )
        count = sum(1 for _ in rows)
        best = min(best, time.perf_counter() - started)
    return best, count, [e.reason for e in errors]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64])
    sizes = parser.parse_args().sizes
    print(f"machine load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("cap lifted (the whole element parsed):")
    previous: tuple[int, float] | None = None
    for megabytes in sizes:
        content = single_element_array(megabytes)
        seconds, count, _ = read_seconds(content, max_record_chars=len(content))
        ratio = ""
        if previous is not None:
            size_ratio, time_ratio = megabytes / previous[0], seconds / previous[1]
            ratio = f"  size x{size_ratio:g} -> time x{time_ratio:.2f}"
        print(f"  {megabytes:>4} MB  {seconds:7.3f} s  rows {count}{ratio}")
        previous = (megabytes, seconds)
    print(f"default cap ({readers.MAX_RECORD_CHARS:,} characters per record):")
    for megabytes in sizes:
        content = single_element_array(megabytes)
        seconds, count, reasons = read_seconds(content, max_record_chars=readers.MAX_RECORD_CHARS)
        print(f"  {megabytes:>4} MB  {seconds:7.3f} s  rows {count}  row errors {reasons}")


if __name__ == "__main__":
    main()
