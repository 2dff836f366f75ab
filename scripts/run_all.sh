#!/usr/bin/env bash
# `make run`: web, worker and beat in the foreground; Ctrl-C stops all three.
#   scripts/run_all.sh [BIN] [ADDR]   ADDR: where the web server listens (default: loopback only)
set -euo pipefail
BIN="${1:-.venv/bin}"
ADDR="${2:-127.0.0.1:8000}"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

worker_flags=()
if [ -z "${REDIS_URL:-}" ] && [ -z "${CELERY_BROKER_URL:-}" ]; then
  # Embedded mode (SQLite + filesystem broker): one worker process with threads, so SQLite
  # sees a single writer process and in-process rate limits are shared by every task.
  worker_flags=(--pool threads --concurrency 8)
fi

"$BIN/python" manage.py runserver "$ADDR" --noreload & pids+=($!)
"$BIN/python" -m config.worker --loglevel=INFO "${worker_flags[@]}" & pids+=($!)
"$BIN/celery" -A config beat --loglevel=INFO & pids+=($!)
wait -n
