"""Celery: delivery guarantees, time limits, queues and the periodic work (beat).

The broker itself is each profile's choice (CELERY_BROKER_URL, with
broker_transport_options()); each task declares its name, queue and retry policy where it is
defined (common.task_decorator.sluice_task).
"""

from kombu import Queue

from config.env import VAR_DIR, env


def broker_transport_options(broker_url: str) -> dict:
    """Transport options for a broker URL: for the filesystem broker its folders under var/
    (created by the processes that use them, config/runtime.py), for Redis the redelivery
    timeout."""
    if broker_url.startswith("filesystem"):
        folder = VAR_DIR / "broker"
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            # Broadcast/pidbox state; kombu's default is ./control in the working directory.
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    # Longer than any chunk may run (see CELERY_TASK_TIME_LIMIT), so a slow chunk is never
    # handed to a second worker while the first is still on it.
    return {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}


CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
# At-least-once delivery: a task is acknowledged only after it ran, and a task whose worker
# died is redelivered. Every task is written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=900)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=960)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A refused publish must fail fast so the API can answer 502 instead of hanging.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Workers log through settings.LOGGING (config/celery.py connects `setup_logging`).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Queues -----------------------------------------------------------------------------------

# Four kinds of work on four queues, so a deployment can give each its own workers (the bulk
# chunks a fleet of their own; docs/operations.md, "Queues"): planning a run, running its chunks,
# delivering webhooks, and housekeeping (the sweeper, orphan recovery, purges and expiries).
# Anything else (none today) goes to the default queue. A worker started without `-Q` consumes
# every queue below, so one plain `celery -A config worker` (or `--scale worker=N`) runs it all.
# An empty name sends that kind to the default queue.
CELERY_TASK_DEFAULT_QUEUE = env.str("SLUICE_DEFAULT_QUEUE", default="celery")
SLUICE_PLANNING_QUEUE = env.str("SLUICE_PLANNING_QUEUE", default="planning")
SLUICE_CHUNK_QUEUE = env.str("SLUICE_CHUNK_QUEUE", default="chunks")
SLUICE_WEBHOOK_QUEUE = env.str("SLUICE_WEBHOOK_QUEUE", default="webhooks")
SLUICE_HOUSEKEEPING_QUEUE = env.str("SLUICE_HOUSEKEEPING_QUEUE", default="housekeeping")
_KINDS = (
    SLUICE_PLANNING_QUEUE,
    SLUICE_CHUNK_QUEUE,
    SLUICE_WEBHOOK_QUEUE,
    SLUICE_HOUSEKEEPING_QUEUE,
)
SLUICE_QUEUES = list(dict.fromkeys(name for name in (CELERY_TASK_DEFAULT_QUEUE, *_KINDS) if name))
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in SLUICE_QUEUES]

# --- Periodic work (beat) ---------------------------------------------------------------------

CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often beat releases holds past their expires_at.
SLUICE_HOLD_SWEEP_SECONDS = env.int("SLUICE_HOLD_SWEEP_SECONDS", default=60)
# How often beat's sweeper runs (re-sends dead workers' chunks and lost messages; ends runs past
# their deadline). Measured (bench/sweeper.py, docs/reliability.md): a sweep is 10 queries,
# ~44 ms on a loaded machine; a lost node's claims wait for the next tick when no worker restarts.
SLUICE_SWEEP_INTERVAL_SECONDS = env.int("SLUICE_SWEEP_INTERVAL_SECONDS", default=10)
# No sweep finished for this long: /readyz answers 503 and the admin flags it (0: never).
SLUICE_SWEEPER_STALE_SECONDS = env.int("SLUICE_SWEEPER_STALE_SECONDS", default=120)
# Expired `cl-task_…` cohorts are invisible already; beat deletes them.
SLUICE_COHORT_PURGE_SECONDS = env.int("SLUICE_COHORT_PURGE_SECONDS", default=3600)
# How often beat re-ranks the `auto` waterfall orders (docs/providers.md).
SLUICE_AUTO_ORDER_INTERVAL_S = env.int("SLUICE_AUTO_ORDER_INTERVAL_S", default=600)
CELERY_BEAT_SCHEDULE = {
    "enrichment-sweep": {
        "task": "enrichment.sweep_workflows",
        "schedule": float(SLUICE_SWEEP_INTERVAL_SECONDS),
    },
    "credits-expire-holds": {
        "task": "credits.expire_holds",
        "schedule": float(SLUICE_HOLD_SWEEP_SECONDS),
    },
    # Unused quotes that expired more than a day ago.
    "credits-purge-quotes": {"task": "credits.purge_quotes", "schedule": 3600.0},
    "providers-purge-expired-cache": {
        "task": "providers.purge_expired_cache",
        "schedule": 3600.0,
    },
    # Hourly counts of the provider call records, read by the provider analytics.
    "providers-roll-up-calls": {"task": "providers.roll_up_calls", "schedule": 600.0},
    # The `auto` waterfall orders, re-ranked from recent call records (docs/providers.md).
    "providers-refresh-auto-orders": {
        "task": "providers.refresh_auto_orders",
        "schedule": float(SLUICE_AUTO_ORDER_INTERVAL_S),
    },
    # Idempotency-Key records past their 24 h retention.
    "common-purge-idempotency-records": {
        "task": "common.purge_idempotency_records",
        "schedule": 3600.0,
    },
    "leads-purge-expired-cohorts": {
        "task": "leads.purge_expired_cohorts",
        "schedule": float(SLUICE_COHORT_PURGE_SECONDS),
    },
    # Export files whose download links expired.
    "leads-purge-expired-exports": {"task": "leads.purge_expired_exports", "schedule": 3600.0},
}
