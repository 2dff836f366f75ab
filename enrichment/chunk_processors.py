"""Per-kind chunk processors: the seam through which an app above enrichment runs its own kind
of workflow on the enrichment machinery (items, claims, chunk tasks, sweeper, settlement).

A processor receives the items a chunk claimed (their leads loaded) and the claim token, does
its work outside any transaction, then records the results itself, only for the items the
token still owns, setting each item's terminal status and `credits_charged` and bumping the
workflow's counters in the same transaction (as `execution._record` does for enrichment). The
chunk task settles the workflow afterwards. Apps register from their AppConfig.ready, so
enrichment never imports them.
"""

from typing import Protocol

from enrichment.models import Workflow, WorkflowItem


class ChunkProcessor(Protocol):
    def __call__(
        self, *, workflow: Workflow, claim_token: str, items: list[WorkflowItem]
    ) -> None: ...


_processors: dict[str, ChunkProcessor] = {}


def register(kind: str, processor: ChunkProcessor) -> None:
    """Makes `processor` run the chunks of workflows of `kind` (a repeat replaces it)."""
    _processors[kind] = processor


def for_kind(kind: str) -> ChunkProcessor | None:
    """The processor registered for `kind`; None for enrichment's own kinds (the waterfall)."""
    return _processors.get(kind)
