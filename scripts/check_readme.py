#!/usr/bin/env python3
"""Runs the README's code blocks as a reader pastes them: in order, in one bash session, from the
repository root, against a scratch PostgreSQL database, Redis DB, var/ folder and ports.

    python3 scripts/check_readme.py [--database NAME] [--redis-db N]

`bash` blocks run as written; `python` blocks run in `.venv/bin/python`. A block that cannot run
here, or a command that runs elsewhere, says so in an HTML comment just above the block (unseen on
a rendered page):

    <!-- readme-check: skip: <why> -->                        the whole block
    <!-- readme-check: omit `<command>`: <why> -->           that command of the block
    <!-- readme-check: background `<command>` until <url> --> started in the background; the next
                                                               line runs once <url> answers 2xx

Background commands are stopped (their whole process group) when the session ends. The README's
own database, Redis DB and ports are replaced by the scratch ones (REWRITES below; each must
still occur, so a README edit cannot silently escape them). Any failing command fails the check.
Needs: bash, curl, jq, createdb/dropdb and redis-cli on PATH; PostgreSQL and Redis on 127.0.0.1.
"""

import argparse
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DIRECTIVE = re.compile(r"<!--\s*readme-check:\s*(?P<text>.*?)\s*-->")
SKIP = re.compile(r"skip:\s*(?P<reason>.+)")
OMIT = re.compile(r"omit `(?P<command>[^`]+)`:\s*(?P<reason>.+)")
BACKGROUND = re.compile(r"background `(?P<command>[^`]+)` until (?P<url>\S+)")
FENCE = re.compile(r"^```(?P<language>[\w-]*)\n(?P<body>.*?)^```\s*$", re.M | re.S)
LANGUAGES = ("bash", "python")
# What a fresh shell on a new machine would not have: this process's own services and profile.
INHERITED_NOT = ("DATABASE_URL", "REDIS_URL", "KEY", "LIST", "QUOTE", "WORKFLOW")
INHERITED_NOT_PREFIXES = ("DJANGO_", "SLUICE_", "CELERY_")
BACKGROUND_READY_SECONDS = 300
SESSION_SECONDS = 1800


@dataclass
class Block:
    line: int
    language: str
    body: str
    skip: str = ""
    omit: dict[str, str] = field(default_factory=dict)
    background: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse(text: str) -> list[Block]:
    blocks = []
    position = 0
    for match in FENCE.finditer(text):
        block = Block(
            line=text.count("\n", 0, match.start()) + 1,
            language=match["language"],
            body=match["body"],
        )
        for directive in DIRECTIVE.finditer(text, position, match.start()):
            _apply(block, directive["text"])
        blocks.append(block)
        position = match.end()
    return blocks


def _apply(block: Block, directive: str) -> None:
    if skip := SKIP.fullmatch(directive):
        block.skip = skip["reason"]
    elif omit := OMIT.fullmatch(directive):
        block.omit[omit["command"]] = omit["reason"]
    elif background := BACKGROUND.fullmatch(directive):
        block.background[background["command"]] = background["url"]
    else:
        raise SystemExit(f"README.md:{block.line}: unknown readme-check directive: {directive}")


def logical_lines(body: str) -> list[str]:
    """Lines of a shell block, a backslash-continued command joined into one."""
    lines, current = [], ""
    for raw in body.splitlines():
        current += raw + "\n"
        if not raw.endswith("\\"):
            lines.append(current.rstrip("\n"))
            current = ""
    return [line for line in lines if line.strip()]


def command_of(line: str) -> str:
    """The command without a trailing comment, to match a directive against."""
    return re.sub(r"\s+#.*$", "", line).strip()


PRELUDE = r"""
set -euo pipefail
set -m  # each background command gets its own process group, stopped whole at the end
__pids=()
__stop() {
  local pid
  for pid in "${__pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${__pids[@]}"; do
    for _ in $(seq 100); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
}
trap __stop EXIT
__ready() {  # __ready <url> <pid> <log> <command>
  local deadline=$((SECONDS + __READY_SECONDS))
  until curl -sf -o /dev/null "$1"; do
    if ! kill -0 "$2" 2>/dev/null || ((SECONDS > deadline)); then
      echo "readme-check: '$4' did not answer on $1; the end of its output:" >&2
      tail -n 60 "$3" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "readme-check: '$4' answers on $1"
}
"""


def script_for(blocks: list[Block], logs: Path) -> tuple[str, list[str], int]:
    """The bash session, what it leaves out and how many blocks it runs (for the report)."""
    parts = [PRELUDE.replace("__READY_SECONDS", str(BACKGROUND_READY_SECONDS))]
    left_out = []
    ran = 0
    for block in blocks:
        where = f"README.md:{block.line}"
        if block.skip:
            left_out.append(f"{where}: block skipped: {block.skip}")
            continue
        if block.language not in LANGUAGES:
            raise SystemExit(f"{where}: a ```{block.language} block; say how to check it")
        if block.language == "python":
            parts.append(f"echo {shlex.quote(f'--- {where} (python)')}")
            parts.append(f".venv/bin/python - <<'__README_PYTHON__'\n{block.body}__README_PYTHON__")
            ran += 1
            continue
        parts.append(f"echo {shlex.quote(f'--- {where}')}")
        unused = set(block.omit) | set(block.background)
        commands = 0
        for index, line in enumerate(logical_lines(block.body)):
            command = command_of(line)
            unused.discard(command)
            if command in block.omit:
                left_out.append(f"{where}: `{command}` omitted: {block.omit[command]}")
                continue
            parts.append(f"echo {shlex.quote('$ ' + line)}")
            commands += 1
            if command in block.background:
                log = logs / f"background-{block.line}-{index}.log"
                url = block.background[command]
                parts.append(
                    f"( {command} ) > {shlex.quote(str(log))} 2>&1 &\n__pids+=($!)\n"
                    f"__ready {shlex.quote(url)} $! {shlex.quote(str(log))} "
                    f"{shlex.quote(command)}"
                )
            else:
                parts.append(line)
        if unused:
            raise SystemExit(f"{where}: directives name commands not in the block: {unused}")
        ran += commands > 0
    return "\n".join(parts) + "\n", left_out, ran


def rewrite(text: str, rewrites: list[tuple[str, str]]) -> str:
    for old, new in rewrites:
        if old not in text:
            raise SystemExit(f"README.md no longer contains {old!r}; update REWRITES in {__file__}")
        text = text.replace(old, new)
    return text


def _untracked() -> set[str]:
    result = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return set(result.stdout.splitlines())


def _scratch_services(database: str, redis_db: int) -> None:
    subprocess.run(
        ["dropdb", "--if-exists", "--force", "-h", "127.0.0.1", "-U", "postgres", database],
        check=True,
    )
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-n", str(redis_db), "flushdb"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="sluice_readme_check", help="scratch database")
    parser.add_argument("--redis-db", type=int, default=15, help="scratch Redis DB number")
    args = parser.parse_args()
    web_port, flower_port = _free_port(), _free_port()
    # The README's services and ports -> the scratch ones.
    rewrites = [
        ("127.0.0.1:5432/sluice ", f"127.0.0.1:5432/{args.database} "),
        ("-U postgres sluice ", f"-U postgres {args.database} "),
        ("redis://127.0.0.1:6379/0", f"redis://127.0.0.1:6379/{args.redis_db}"),
        ("localhost:8000", f"localhost:{web_port}"),
        ("localhost:5555", f"localhost:{flower_port}"),
    ]  # fmt: skip
    readme = README.read_text()
    blocks = parse(rewrite(readme, rewrites))
    scratch = Path(tempfile.mkdtemp(prefix="sluice-readme-"))
    script, left_out, ran = script_for(blocks, scratch)
    (scratch / "readme.sh").write_text(script)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in INHERITED_NOT and not key.startswith(INHERITED_NOT_PREFIXES)
    }
    env.update(
        SLUICE_VAR_DIR=str(scratch / "var"),
        WEB_ADDR=f"127.0.0.1:{web_port}",
        FLOWER_PORT=str(flower_port),
    )
    _scratch_services(args.database, args.redis_db)
    untracked_before = _untracked()
    started = time.monotonic()
    try:
        result = subprocess.run(
            ["bash", str(scratch / "readme.sh")],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, timeout=SESSION_SECONDS, check=False,
        )  # fmt: skip
        code = result.returncode
    except subprocess.TimeoutExpired:
        print(f"readme-check: the README session ran past {SESSION_SECONDS} s", file=sys.stderr)
        code = 1
    elapsed = time.monotonic() - started
    for created in sorted(_untracked() - untracked_before):
        if created in readme:  # a file a README command wrote (q3.csv), never anyone else's
            (ROOT / created).unlink()
    _scratch_services(args.database, args.redis_db)
    print(f"\nreadme-check: {ran} of {len(blocks)} blocks run in {elapsed:.0f} s; left out:")
    for line in left_out:
        print(f"  {line}")
    if code:
        print(f"readme-check: FAILED (exit {code}); the session is {scratch / 'readme.sh'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
