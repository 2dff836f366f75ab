"""Enrichment services: starting runs (start.py), executing them on workers (execution.py),
their lifecycle and settlement (lifecycle.py), and webhooks (webhooks.py)."""
