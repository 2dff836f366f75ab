"""`python -m config.worker [options]`: a Celery worker of this app, as `celery -A config worker
[options]` starts one, with the flags every deployment of Sluice uses (Makefile, compose,
scripts/run_all.sh, the tests and the benchmarks all start workers this way).

Two differences from the `celery` command, both about how fast a worker starts and how much
memory it keeps (docs/operations.md, "Scaling"; measured by bench/failover.py):

- `celery` builds its whole command group before running one command: every subcommand and
  every installed plugin (flower's web server and tornado, click-repl). A worker uses none of
  them, yet its main process and every pool process forked from it would carry them.
- `--without-mingle --without-gossip` always: at start, mingle asks the other workers for the
  tasks they revoked and waits for their answers, and gossip follows the other workers' events.
  Sluice revokes no task and has no use for either (a dead worker's chunks are found through
  their claims, docs/reliability.md).

Every other option is `celery worker`'s own (`--concurrency`, `-Q`, `-n`, `--pool`, …).
"""

import sys

import click
from celery.bin.base import CLIContext
from celery.bin.worker import worker

from config.celery import app

FLAGS = ("--without-mingle", "--without-gossip")


@click.group()
@click.pass_context
def _cli(ctx: click.Context) -> None:
    ctx.obj = CLIContext(app=app, no_color=False, workdir=None, quiet=False)


_cli.add_command(worker)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    _cli(["worker", *FLAGS, *args], prog_name="python -m config.worker")


if __name__ == "__main__":
    main()
