"""Where the time went, from py-spy's collapsed stacks (`py-spy record -f raw`).

    .venv/bin/python bench/profile_top.py bench/results/reads-sqlite.txt [--top 40] [--match signage]

Samples of idle threads (waiting in select or on a queue) are left out. Prints each function's inclusive share of the samples (the function or anything it called),
then its own (self) share, largest first. `--match` keeps only frames whose text contains it.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


# a frame at which a thread waits (the event loop in select, aiosqlite's thread on its queue)
IDLE = ("(asyncio/runners.py:118)", "(aiosqlite/core.py:59)", "(threading.py:327)", "(threading.py:331)")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("file", type=Path)
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--match", default="")
    args = p.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in args.file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[-1].endswith(IDLE):
            continue
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    print(f"{total} samples")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"--- {title}")
        shown = 0
        for frame, n in counter.most_common():
            if args.match and args.match not in frame:
                continue
            print(f"{100 * n / total:5.1f}%  {frame}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()
