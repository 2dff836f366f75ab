#!/usr/bin/env bash
# Runs every benchmark in turn (`make bench`), each on its own database (<db>_<name>, <db> being the database DATABASE_URL names)
# on the PostgreSQL server of DATABASE_URL, with the Redis of REDIS_URL (its Celery queue is
# purged: point REDIS_URL at a spare Redis DB). Prints figures; asserts nothing.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/sluice REDIS_URL=redis://127.0.0.1:6379/9 \
#       make bench
set -euo pipefail
BIN="${1:-.venv/bin}"
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL server (postgres://…)}"
: "${REDIS_URL:?set REDIS_URL to a Redis DB the benchmarks may use (redis://…/N)}"

echo "machine: $(nproc) cores, $(free -m | awk '/^Mem:/ {print $2}') MB RAM; $(uptime)"
# bulk_100k prints the DB floor it measured in the same run and every figure's ratio to it.
for script in bulk_100k waterfall_20k slow_provider bulk_post_latency status_polling; do
    echo
    echo "=== ${script} ($(date -u +%H:%M:%S) UTC)"
    "${BIN}/python" "bench/${script}.py"
    echo "load after ${script}: $(cut -d' ' -f1-3 /proc/loadavg)"
done

# The linearity run (a million leads against 100,000: import, run, RSS) takes many minutes on
# two cores; `SLUICE_BENCH_MILLION=1 make bench` adds it.
if [[ "${SLUICE_BENCH_MILLION:-0}" == "1" ]]; then
    echo
    echo "=== bulk_1m ($(date -u +%H:%M:%S) UTC)"
    "${BIN}/python" bench/bulk_1m.py
    echo "load after bulk_1m: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
