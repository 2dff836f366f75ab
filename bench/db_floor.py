"""The DB floor alone: the four set-based statements of a run's per-lead writes (update the
items, update the leads, insert the call records, upsert the cache entries) over N rows on a
scratch database (bench/_floor.py), with the machine's load.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/db_floor.py [--rows 100000]
"""

import argparse

from _common import bench_env, load, say, setup_django
from _floor import db_floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--times", type=int, default=2)
    args = parser.parse_args()
    env = bench_env("floor_only")
    setup_django(env, floor=True)
    for _ in range(args.times):
        say(f"DB floor          {db_floor(env['DATABASE_URL'], args.rows).text()} ({load()})")


if __name__ == "__main__":
    main()
