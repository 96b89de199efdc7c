"""A directory sync of 10,000 people in 1,000 departments (issue 19 point 4): the first run
creates everyone, a dry run and a second run find nothing to do, a run after 200 people
left, 300 changed title and 50 departments moved applies just that. SQLite and PostgreSQL
(when 127.0.0.1:5432 answers). Goal: each run under a minute.

    .venv/bin/python bench/directory.py [--people 10000] [--departments 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.append(str(Path(__file__).resolve().parent))  # after the project: bench/media.py is not media

from booking import pg_database  # noqa: E402

from signage.db import Database  # noqa: E402
from signage.directory import sync  # noqa: E402


def organisation(people: int, departments: int, seed: int = 7) -> sync.Snapshot:
    rnd = random.Random(seed)
    depts = [sync.Dept(id="d0", name="总部", parent=None)]
    for n in range(1, departments):
        depts.append(sync.Dept(id=f"d{n}", name=f"部门{n}", parent=f"d{rnd.randrange(n)}", sort=n))
    persons = []
    for n in range(people):
        where = {f"d{rnd.randrange(departments)}" for _ in range(rnd.choice((1, 1, 1, 2)))}
        persons.append(
            sync.Person(
                id=f"u{n}", name=f"员工{n}", email=f"p{n}@example.com", mobile=f"138{n:08d}",
                employee_no=f"E{n:06d}", title="工程师", departments=tuple(sorted(where)),
            )
        )  # fmt: skip
    return sync.Snapshot(depts, persons)


def changed(snapshot: sync.Snapshot, seed: int = 8) -> sync.Snapshot:
    rnd = random.Random(seed)
    people = snapshot.people[200:]  # 200 left
    for p in rnd.sample(people, 300):
        p.title = "高级工程师"
    depts = [sync.Dept(**vars(d)) for d in snapshot.departments]
    for d in rnd.sample(depts[1:], 50):  # moved under the top (never under itself)
        d.parent = "d0"
    return sync.Snapshot(depts, [sync.Person(**vars(p)) for p in people])


async def timed(db, snapshot, dry_run=False):
    started = time.perf_counter()
    out, _run = await sync.run(db, "bench", snapshot, dry_run=dry_run)
    return time.perf_counter() - started, out.counts()


async def measure(url: str, people: int, departments: int) -> list[tuple[str, float, dict]]:
    db = Database(url)
    await db.create_all()
    rows = []
    try:
        first = organisation(people, departments)
        rows.append(("first run", *await timed(db, first)))
        rows.append(("dry run, same", *await timed(db, organisation(people, departments), dry_run=True)))
        rows.append(("second run, same", *await timed(db, organisation(people, departments))))
        later = changed(organisation(people, departments))
        rows.append(("dry run, changes", *await timed(db, later, dry_run=True)))
        rows.append(("run, changes", *await timed(db, changed(organisation(people, departments)))))
        rows.append(("run again", *await timed(db, changed(organisation(people, departments)))))
    finally:
        await db.close()
    return rows


def show(name: str, rows) -> None:
    print(f"\n{name}")
    for label, seconds, c in rows:
        d = c["departments"]
        print(f"  {label:18} {seconds:6.2f} s   people +{c['created']} ~{c['changed']} -{c['deactivated']}"
              f"   departments +{d['created']} ~{d['changed']} -{d['deactivated']}   errors {c['errors']}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--departments", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        show(f"SQLite: {args.people} people, {args.departments} departments",
             asyncio.run(measure(url, args.people, args.departments)))  # fmt: skip
    pg = pg_database()
    if pg is None:
        print("\nPostgreSQL: not reachable on 127.0.0.1:5432, skipped")
        return
    url, drop = pg
    try:
        show(f"PostgreSQL: {args.people} people, {args.departments} departments",
             asyncio.run(measure(url, args.people, args.departments)))  # fmt: skip
    finally:
        drop()


if __name__ == "__main__":
    main()
