"""Benchmark: JSON read throughput (ours vs bare Starlette) and SSE publish→receive latency.

    .venv/bin/python bench/run.py            # about a minute; see bench/README.md

Everything runs on 127.0.0.1 in a temporary data directory that is removed at the end.
Servers are separate uvicorn processes (one worker, --log-level warning, --no-access-log);
the SSE clients live in a child process so that they do not share the driver's event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import multiprocessing as mp
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
PY = sys.executable
UVICORN_FLAGS = ["--workers", "1", "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "5"]


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def raise_nofile(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def use_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


class Server:
    """A uvicorn process; its output goes to a log file, shown if it fails."""

    def __init__(self, name: str, argv: list[str], env: dict, cwd: Path, log: Path):
        self.name, self.port, self.log = name, None, log
        self.argv, self.env, self.cwd = argv, env, cwd
        self.proc: subprocess.Popen | None = None

    def start(self, port: int) -> Server:
        self.port = port
        self._out = open(self.log, "wb")
        self.proc = subprocess.Popen(
            self.argv + ["--host", HOST, "--port", str(port)],
            env=self.env,
            cwd=self.cwd,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await c.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /healthz with 200 in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            self._out.close()


def cli(env: dict, cwd: Path, *args: str) -> str:
    out = subprocess.run([PY, "-m", "signage", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"signage {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout


# ---------------------------------------------------------------- 1. JSON read throughput


async def load_raw(port: int, path: str, headers: dict, concurrency: int, warmup: float, duration: float) -> dict:
    """Like `load`, with a minimal keep-alive HTTP/1.1 client on raw asyncio streams.

    httpx.AsyncClient tops out near 1,300 req/s on one core and drops to ~250 req/s
    with 50 concurrent requests (its connection pool; encode/httpx#3215), so it
    would measure itself rather than the server; this client does not.
    """
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{head}\r\n".encode()
    counting, stop = False, False
    ok = bad = 0
    errors: dict[str, int] = {}

    def fail(what: str) -> None:
        nonlocal bad
        errors[what] = errors.get(what, 0) + 1
        bad += counting

    async def worker() -> None:
        nonlocal ok
        while not stop:
            writer = None
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 10)
                while not stop:
                    writer.write(request)
                    status = await asyncio.wait_for(reader.readline(), 10)
                    length = None
                    while True:
                        line = await reader.readline()
                        if line in (b"\r\n", b"\n", b""):
                            break
                        if line[:15].lower() == b"content-length:":
                            length = int(line[15:])
                    if length is None:
                        raise RuntimeError("no content-length")
                    await reader.readexactly(length)
                    if status[9:12] == b"200":
                        ok += counting
                    else:
                        fail(status[9:12].decode(errors="replace"))
            except (TimeoutError, OSError, asyncio.IncompleteReadError, RuntimeError, ValueError) as exc:
                fail(type(exc).__name__)
                await asyncio.sleep(0.05)
            finally:
                if writer is not None:
                    writer.close()

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    counting, t0 = True, time.perf_counter()
    await asyncio.sleep(duration)
    counting, elapsed = False, time.perf_counter() - t0
    stop = True
    await asyncio.wait(tasks, timeout=15)
    for t in tasks:
        t.cancel()
    return {"rps": ok / elapsed, "ok": ok, "failed": bad, "errors": errors}


async def load(url: str, path: str, headers: dict, concurrency: int, warmup: float, duration: float) -> dict:
    """`concurrency` tasks GET `path` in a loop: warm-up, then count what completes in `duration`."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=10) as c:
        counting, stop = False, False
        ok = bad = 0
        errors: dict[str, int] = {}

        async def worker() -> None:
            nonlocal ok, bad
            while not stop:
                try:
                    r = await c.get(path)
                    good = r.status_code == 200
                    if not good:
                        errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                except httpx.HTTPError as exc:
                    good = False
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                if counting:
                    ok, bad = ok + good, bad + (not good)

        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        counting, t0 = True, time.perf_counter()
        await asyncio.sleep(duration)
        counting, elapsed = False, time.perf_counter() - t0
        stop = True
        await asyncio.wait(tasks, timeout=15)
        for t in tasks:
            t.cancel()
    return {"rps": ok / elapsed, "ok": ok, "failed": bad, "errors": errors}


# ---------------------------------------------------------------- 2. SSE clients (child process)


# What a screen's stream sends when something newer is there (player/stream.py): the new
# layout itself (`layout`) or the whole state (`state`; also once right after `hello`, before
# any publish, which the matching below ignores).
UPDATES = (b"layout", b"state")


def sse_child(port: int, keys: list[str], ready, received, stop, conn) -> None:
    """Opens one SSE stream per key; records time.time() of every update event (UPDATES).

    `ready` counts streams that got `hello`, `received` counts update events,
    `stop` (an Event) ends it; the results go back through `conn`.
    """
    raise_nofile(len(keys) + 1024)
    use_uvloop()
    times: list[list[float]] = [[] for _ in keys]
    failures: dict[str, int] = {}
    extra: dict[str, int] = {}

    async def client(i: int, key: str, gate: asyncio.Semaphore) -> None:
        writer = None
        got_hello = False
        try:
            async with gate:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 30)
                writer.write(
                    f"GET /player/api/events?key={key} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                    "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n".encode()
                )
                status = await asyncio.wait_for(reader.readline(), 30)
                if b" 200 " not in status:
                    raise RuntimeError(f"status {status.decode(errors='replace').strip()[:40]}")
                while (await asyncio.wait_for(reader.readline(), 30)) not in (b"\r\n", b"\n", b""):
                    pass
                while not got_hello:  # hold the gate until hello, so connects are paced
                    line = await asyncio.wait_for(reader.readline(), 30)
                    if not line:
                        raise RuntimeError("closed before hello")
                    if line.startswith(b"event:"):
                        if line[6:].strip() == b"hello":
                            got_hello = True
                            with ready.get_lock():
                                ready.value += 1
            while True:  # chunk-size lines, data lines and ": ping" comments are skipped
                line = await reader.readline()
                if not line:
                    raise RuntimeError("stream closed by server")
                if line.startswith(b"event:"):
                    name = line[6:].strip()
                    if name in UPDATES:
                        times[i].append(time.time())
                        with received.get_lock():
                            received.value += 1
                    else:
                        extra[name.decode()] = extra.get(name.decode(), 0) + 1
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - counted and reported
            what = f"{'after' if got_hello else 'before'} hello: {type(exc).__name__} {exc}"[:120]
            failures[what] = failures.get(what, 0) + 1
        finally:
            if writer is not None:
                writer.close()

    async def main() -> None:
        gate = asyncio.Semaphore(100)
        tasks = [asyncio.create_task(client(i, k, gate)) for i, k in enumerate(keys)]
        while not stop.is_set():
            await asyncio.sleep(0.05)
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks, timeout=10)

    try:
        asyncio.run(main())
    finally:
        conn.send({"times": times, "failures": failures, "extra_events": extra})
        conn.close()


# ---------------------------------------------------------------- the run


async def make_screens(
    c: httpx.AsyncClient, n: int, layout_id: int | None, start: int, concurrency: int = 16
) -> list[str]:
    """Pair and claim `n` screens over HTTP; their keys."""
    keys: list[str] = []
    todo = iter(range(start, start + n))

    async def worker() -> None:
        for i in todo:
            r = await c.post("/player/api/pair")
            if r.status_code != 201:
                raise RuntimeError(f"pair: {r.status_code} {r.text[:200]}")
            pairing = r.json()
            body = {"code": pairing["code"], "name": f"bench {i}"}
            if layout_id is not None:
                body["layout_id"] = layout_id
            r = await c.post("/api/v1/screens/claim", json=body)
            if r.status_code != 201:
                raise RuntimeError(f"claim: {r.status_code} {r.text[:200]}")
            keys.append(pairing["key"])

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return keys


async def session_cookie(ours: Server) -> str:
    """A signed-in browser's cookie (the sign-in form, as a person uses it)."""
    async with httpx.AsyncClient(base_url=ours.url, timeout=30) as c:
        page = (await c.get("/login")).text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        form = {"email": "bench@example.com", "password": "benchpass1", "csrf_token": csrf}
        r = await c.post("/login", data=form)
        assert r.status_code == 303, r.text
        assert (await c.get("/api/v1/me")).status_code == 200
        return "; ".join(f"{k}={v}" for k, v in c.cookies.items())


async def bench_json(args, ours: Server, bare: Server, token: str, report: dict) -> None:
    async with httpx.AsyncClient(base_url=ours.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        await make_screens(c, args.screens, None, 1)
        r = await c.get("/api/v1/screens")
        r.raise_for_status()
        sample = r.json()
    print(f"  /api/v1/screens returns {len(sample)} screens ({len(r.content)} bytes)", flush=True)
    auth = {"Authorization": f"Bearer {token}"}
    cookie = await session_cookie(ours)
    for name, server, headers in (("ours", ours, auth), ("ours_session", ours, {"Cookie": cookie}), ("bare", bare, {})):
        if args.client == "httpx":
            res = await load(server.url, "/api/v1/screens", headers, args.concurrency, args.warmup, args.duration)
        else:
            res = await load_raw(server.port, "/api/v1/screens", headers, args.concurrency, args.warmup, args.duration)
        report["json"][name] = res
        failed = f", {res['failed']} failed {res['errors']}" if res["failed"] else ""
        print(f"  {name}: {res['rps']:,.0f} req/s ({res['ok']} ok in {args.duration:g} s{failed})", flush=True)


async def bench_sse(args, ours: Server, token: str, report: dict) -> None:
    n, pubs = args.clients, args.publishes
    sse = report["sse"]
    async with httpx.AsyncClient(base_url=ours.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        t = time.perf_counter()
        keys = await make_screens(c, n, 1, 1000, concurrency=16)
        sse["setup_s"] = time.perf_counter() - t
        print(f"  paired and claimed {n} screens in {sse['setup_s']:.1f} s", flush=True)

        ctx = mp.get_context("spawn")
        ready, received, stop = ctx.Value("i", 0), ctx.Value("i", 0), ctx.Event()
        parent_conn, child_conn = ctx.Pipe(duplex=False)
        child = ctx.Process(target=sse_child, args=(ours.port, keys, ready, received, stop, child_conn), daemon=True)
        child.start()
        result = None
        try:
            t = time.perf_counter()
            deadline = time.monotonic() + args.connect_timeout
            while ready.value < n and time.monotonic() < deadline and child.is_alive():
                await asyncio.sleep(0.05)
            sse["connected"], sse["connect_s"] = ready.value, time.perf_counter() - t
            print(f"  {ready.value}/{n} SSE streams got hello in {sse['connect_s']:.1f} s", flush=True)
            await asyncio.sleep(0.5)  # let the server settle after the connect storm
            base = received.value
            connected = ready.value

            t0s: list[float] = []
            post_ms: list[float] = []
            statuses: dict[int, int] = {}
            for k in range(pubs):
                t0 = time.time()
                p0 = time.perf_counter()
                r = await c.post("/api/v1/layouts/1/publish")
                post_ms.append((time.perf_counter() - p0) * 1000)
                t0s.append(t0)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                # wait for this round to arrive (bounded), keeping rounds ~interval apart
                deadline = time.monotonic() + args.round_timeout
                while received.value - base < connected * (k + 1) and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                await asyncio.sleep(max(0.0, t0 + args.interval - time.time()))
            sse["publish_status"] = statuses
            sse["publish_post_ms"] = post_ms
            sse["publish_t0"] = t0s
        finally:
            stop.set()
            with contextlib.suppress(EOFError, OSError):
                if parent_conn.poll(30):
                    result = parent_conn.recv()
            child.join(10)
            if child.is_alive():
                child.terminate()
                child.join(5)
    if result is None:
        raise RuntimeError("SSE client process sent no results")

    # the first update at or after publish k (and before publish k+1) belongs to publish k
    rounds: list[list[float]] = [[] for _ in t0s]
    for times in result["times"]:
        seen = set()
        for t in times:
            k = bisect.bisect_right(t0s, t) - 1
            if k >= 0 and k not in seen:
                seen.add(k)
                rounds[k].append((t - t0s[k]) * 1000)
    for r in rounds:
        r.sort()
    sse["rounds"] = [{"n": len(r), "min_ms": r[0], "p50_ms": pct(r, 50), "max_ms": r[-1]} for r in rounds if r]
    lat = sorted(x for r in rounds for x in r)
    sse.update(
        received=len(lat),
        expected=n * pubs,
        failures=result["failures"],
        extra_events=result["extra_events"],
        p50_ms=pct(lat, 50),
        p90_ms=pct(lat, 90),
        p99_ms=pct(lat, 99),
        max_ms=lat[-1] if lat else float("nan"),
        min_ms=lat[0] if lat else float("nan"),
    )


async def run(args) -> dict:
    report: dict = {"json": {}, "sse": {}}
    with tempfile.TemporaryDirectory(prefix="signage-bench-") as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "SIGNAGE_DATA_DIR": str(tmp / "data"), "PYTHONUNBUFFERED": "1"}
        for key in ("SIGNAGE_DATABASE_URL", "SIGNAGE_REDIS_URL"):  # the default: SQLite, in-process events
            env.pop(key, None)
        cli(env, tmp, "db", "upgrade")
        cli(env, tmp, "demo")  # layout 1, "Lobby welcome"
        cli(env, tmp, "user", "create", "--email", "bench@example.com", "--password", "benchpass1", "--role", "admin")
        token = cli(env, tmp, "token", "create", "--email", "bench@example.com").strip().splitlines()[-1]

        if args.signage_serve:
            ours_argv = [PY, "-m", "signage", "serve"]
        else:
            ours_argv = [PY, "-m", "uvicorn", "signage.app:create_app", "--factory", *UVICORN_FLAGS]
        bare_argv = [PY, "-m", "uvicorn", "bare_app:app", "--app-dir", str(BENCH), *UVICORN_FLAGS]
        ours = Server("ours", ours_argv, env, tmp, tmp / "ours.log")
        bare = Server("bare", bare_argv, env, tmp, tmp / "bare.log")
        try:
            ours.start(free_port())
            bare.start(free_port())
            await asyncio.gather(ours.wait_healthy(), bare.wait_healthy())
            if not args.skip_json:
                print("json read: GET /api/v1/screens", flush=True)
                await bench_json(args, ours, bare, token, report)
            bare.stop()
            if not args.skip_sse:
                print(f"sse: {args.clients} clients, {args.publishes} publishes", flush=True)
                await bench_sse(args, ours, token, report)
            async with httpx.AsyncClient(base_url=ours.url, timeout=10) as c:
                report["healthz_after"] = (await c.get("/healthz")).json()
        finally:
            ours.stop()
            bare.stop()
            log = ours.log.read_text(errors="replace") if ours.log.exists() else ""
            report["server_log_lines"] = len(log.splitlines())
            report["server_log_problems"] = sum(
                1 for line in log.splitlines() if any(w in line for w in ("ERROR", "Traceback", "WARNING"))
            )
            if report["server_log_problems"]:
                print(f"our server logged {report['server_log_problems']} warning/error lines; the last ones:")
                print("\n".join("  | " + x for x in log.splitlines()[-15:]))
    return report


def print_report(args, report: dict) -> None:
    print()
    j = report["json"]
    if "ours" in j and "bare" in j:
        ratio = j["ours"]["rps"] / j["bare"]["rps"] if j["bare"]["rps"] else float("nan")
        print(f"json read  ours {j['ours']['rps']:,.0f} req/s   bare {j['bare']['rps']:,.0f} req/s   ratio {ratio:.3f}")
        j["ratio"] = ratio
        if "ours_session" in j:
            cookie = j["ours_session"]["rps"]
            print(
                f"    signed in by session cookie {cookie:,.0f} req/s: {cookie / j['ours']['rps']:.2f} of the token's,"
                f" ratio to bare {cookie / j['bare']['rps']:.3f} (the session check: sessions.py)"
            )
    s = report["sse"]
    if "received" in s:
        print(
            f"sse {args.clients} clients  publish→receive p50 {s['p50_ms']:.0f} ms  p99 {s['p99_ms']:.0f} ms  "
            f"max {s['max_ms']:.0f} ms  received {s['received']}/{s['expected']}"
        )
        post = sorted(s["publish_post_ms"])
        print(
            f"    connected {s['connected']}/{args.clients} in {s['connect_s']:.1f} s; publish POST p50 "
            f"{pct(post, 50):.0f} ms max {post[-1]:.0f} ms, status {s['publish_status']}; "
            f"setup (pair+claim) {s['setup_s']:.1f} s"
        )
        if s["failures"]:
            print(f"    client failures: {s['failures']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=5.0, help="seconds of load per JSON server")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, default=50, help="concurrent JSON requests")
    ap.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="JSON load client: raw asyncio keep-alive (default) or httpx.AsyncClient",
    )
    ap.add_argument("--screens", type=int, default=5, help="screens in the JSON list")
    ap.add_argument("--clients", type=int, default=1000, help="SSE clients")
    ap.add_argument("--publishes", type=int, default=10)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between publishes")
    ap.add_argument("--round-timeout", type=float, default=5.0, help="max wait for one publish to arrive everywhere")
    ap.add_argument("--connect-timeout", type=float, default=60.0)
    ap.add_argument(
        "--signage-serve",
        action="store_true",
        help="start ours with `signage serve` (its own info logging and access log) instead of uvicorn",
    )
    ap.add_argument("--skip-json", action="store_true")
    ap.add_argument("--skip-sse", action="store_true")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = ap.parse_args()

    raise_nofile(args.clients + 1024)
    use_uvloop()
    t = time.perf_counter()
    report = asyncio.run(run(args))
    print_report(args, report)
    print(f"(total {time.perf_counter() - t:.0f} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
