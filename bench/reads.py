"""Benchmark: the hot reads (issue 21) against a bare Starlette endpoint in the same run,
on SQLite and PostgreSQL, 50 concurrent keep-alive clients.

    .venv/bin/python bench/reads.py [--clients 50] [--seconds 3] [--backends sqlite,postgresql]
                                    [--only healthz,rooms] [--profile]

Per database: `signage db upgrade`, `demo` (rooms, screens, bookings), an admin and its API
token; our server (`uvicorn signage.app:create_app --factory`, one worker, no access log) and
`bench/bare_app.py` run side by side. Each read is loaded for `--seconds` after a short warm-up,
with the bare endpoint loaded before and after every read (its mean is the ratio's base), so a
noisy moment weighs on both. Prints requests/s, the ratio to bare and the server's CPU per
request. `--profile` runs py-spy (`pip install py-spy`) on our server during the reads and
writes its collapsed stacks to bench/results/reads-<backend>.txt (use `--only` to profile one
read; `bench/profile_top.py FILE` prints where the time went).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from booking import cpu_seconds, pg_database  # noqa: E402
from run import PY, UVICORN_FLAGS, Server, cli, free_port, load_raw  # noqa: E402

TODAY = dt.date.today().isoformat()
READS = {
    "healthz": "/healthz",
    "screens": "/api/v1/screens",
    "bookings": f"/api/v1/bookings?room_id=1&from={TODAY}&to={TODAY}",
    "room": "/api/v1/rooms/1",
    "status": "/api/v1/rooms/1/status",
}


async def measure(ours: Server, bare: Server, token: str, args) -> dict:
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=ours.url, headers=auth, timeout=30) as c:
        for name, path in READS.items():
            r = await c.get(path)
            assert r.status_code == 200, (name, r.status_code, r.text[:300])
    results = {}
    base = await load_raw(bare.port, "/api/v1/screens", {}, args.clients, 0.5, args.seconds)
    for name, path in READS.items():
        if args.only and name not in args.only:
            continue
        cpu0 = cpu_seconds(ours.proc.pid)
        res = await load_raw(ours.port, path, auth, args.clients, 0.5, args.seconds)
        cpu = cpu_seconds(ours.proc.pid) - cpu0
        after = await load_raw(bare.port, "/api/v1/screens", {}, args.clients, 0.5, args.seconds)
        bare_rps = (base["rps"] + after["rps"]) / 2
        base = after
        results[name] = {
            "path": path,
            "rps": res["rps"],
            "bare_rps": bare_rps,
            "ratio": res["rps"] / bare_rps,
            "failed": res["failed"],
            "errors": res["errors"],
            # includes the 0.5 s warm-up's requests, which it does not count: an upper bound
            "cpu_us": cpu / max(res["ok"], 1) * 1e6 * args.seconds / (args.seconds + 0.5),
        }
        r = results[name]
        bad = f", {r['failed']} failed {r['errors']}" if r["failed"] else ""
        print(
            f"  {name:9} {r['rps']:7,.0f} req/s   bare {bare_rps:7,.0f}   ratio {r['ratio']:.3f} (goal ≥ 0.25)"
            f"   server CPU ≤{r['cpu_us']:,.0f} µs/request{bad}",
            flush=True,
        )
    return results


def run_backend(backend: str, args, tmp: Path) -> dict | None:
    drop = None
    if backend == "postgresql":
        found = pg_database()
        if found is None:
            print("postgresql: not reachable, skipped")
            return None
        db_url, drop = found
    else:
        db_url = f"sqlite+aiosqlite:///{tmp / 'reads.db'}"
    env = {
        **os.environ,
        "SIGNAGE_DATA_DIR": str(tmp / backend),
        "SIGNAGE_DATABASE_URL": db_url,
        "SIGNAGE_SECRET_KEY": "bench",
        "SIGNAGE_REDIS_URL": "",
        "PYTHONUNBUFFERED": "1",
    }
    ours = bare = spy = None
    try:
        cli(env, tmp, "db", "upgrade")
        cli(env, tmp, "demo")
        cli(env, tmp, "user", "create", "--email", "bench@example.com", "--password", "benchpass1", "--role", "admin")
        token = cli(env, tmp, "token", "create", "--email", "bench@example.com").strip().splitlines()[-1]
        ours_argv = [PY, "-m", "uvicorn", "signage.app:create_app", "--factory", *UVICORN_FLAGS]
        bare_argv = [PY, "-m", "uvicorn", "bare_app:app", "--app-dir", str(BENCH), *UVICORN_FLAGS]
        ours = Server("ours", ours_argv, env, tmp, tmp / f"{backend}-ours.log").start(free_port())
        bare = Server("bare", bare_argv, env, tmp, tmp / f"{backend}-bare.log").start(free_port())

        async def go():
            await asyncio.gather(ours.wait_healthy(), bare.wait_healthy())
            return await measure(ours, bare, token, args)

        if args.profile and shutil.which("py-spy", path=str(Path(PY).parent)):
            out = BENCH / "results" / f"reads-{backend}.txt"  # collapsed stacks: bench/profile_top.py reads them
            out.parent.mkdir(exist_ok=True)
            spy = subprocess.Popen(
                [str(Path(PY).parent / "py-spy"), "record", "-p", str(ours.proc.pid), "-o", str(out), "-r", "200", "-f", "raw"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        print(f"{backend}:", flush=True)
        return asyncio.run(go())
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        for s in (ours, bare):
            if s is not None:
                s.stop()
        if drop:
            drop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--only", type=lambda s: set(s.split(",")), default=None)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    args = p.parse_args()
    report = {}
    with tempfile.TemporaryDirectory(prefix="signage-reads-") as tmp:
        for backend in args.backends.split(","):
            (Path(tmp) / backend).mkdir()
            report[backend] = run_backend(backend, args, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
