"""Benchmark (issue 14 point 13): bookings/s with notifications on and SMTP slow against
bookings/s with notifications off, in the same run; then mails delivered per second by one
server process to a local SMTP server.

    .venv/bin/python bench/notify.py [--clients 50] [--seconds 6] [--rounds 3] [--attendees 3]
                                     [--mails 500] [--rooms 300] [--backend sqlite|postgresql]

Two uvicorn processes (one worker, no access log, in-process events), each on its own
database with `--rooms` rooms: "off" without SIGNAGE_SMTP_URL (email off: the `notify`
consumer still follows the log, for the bell and the calendar state), "on" sending to an
aiosmtpd server in this process that answers each mail's DATA only after `--delay` (2 s).
Every booking names `--attendees` guests by email, so "on" queues that many invitations
(RFC 5546 mails built by the `notify` consumer) per booking. The clients (raw keep-alive
HTTP/1.1, as bench/booking.py) post bookings in alternating rounds (off, on, off, on, …);
between rounds each server's event-log consumers are let catch up (/healthz: nothing
behind), so one server's background work never falls into the other's round. Bookings/s
is the 201s over the rounds' time; the time the consumers took to catch up is printed too.

Then the SMTP server answers at once: the "on" process sends the invitations it has
queued; mails/s is (n - 1) / (time of the n-th arrival - time of the first), n = `--mails`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller
from booking import HOST, PY, cli, free_port, pg_database, post_answer, seed_rooms, slot_body, start, stop

DOMAIN = "bench.example.com"


class Sink:
    """An aiosmtpd handler that takes every mail after `delay` seconds and notes when."""

    def __init__(self, delay: float):
        self.delay, self.arrivals, self.lock = delay, [], threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.arrivals.append(time.perf_counter())
        return "250 OK"


class Server:
    def __init__(self, name: str, proc, url: str, token: str, rooms: list[int], drop=None):
        self.name, self.proc, self.url, self.token, self.rooms, self.drop = name, proc, url, token, rooms, drop
        self.created, self.seconds, self.caught_up, self.other, self.next = 0, 0.0, 0.0, {}, 0

    @property
    def rate(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0

    def close(self) -> None:
        stop(self.proc)
        if self.drop:
            self.drop()


def booking_body(k: int, rooms: list[int], attendees: int) -> bytes:
    body = json.loads(slot_body(k, rooms))
    body["attendees"] = [{"name": f"Guest {k}-{i}", "email": f"g{k}-{i}@{DOMAIN}"} for i in range(attendees)]
    return json.dumps(body).encode()


async def post_load(server: Server, clients: int, seconds: float, attendees: int) -> None:
    """`clients` connections post bookings for `seconds`; the 201s and the rest are counted."""
    port = int(server.url.rsplit(":", 1)[1])
    counter = iter(range(server.next, 10**9))
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < stop_at:
                body = booking_body(next(counter), server.rooms, attendees)
                status, _answer = await post_answer(
                    reader, writer, "/api/v1/bookings", f"Authorization: Bearer {server.token}", body
                )
                if status == "201":
                    server.created += 1
                else:
                    server.other[status] = server.other.get(status, 0) + 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    server.seconds += time.perf_counter() - t0
    server.next = next(counter) + clients  # fresh slots next round


def catch_up(server: Server, timeout: float = 120) -> float:
    """Wait until the server's event-log consumers have every event; how long it took."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        log = httpx.get(server.url + "/healthz", timeout=10).json().get("event_log") or {}
        if log and all(c["behind"] == 0 for c in log["consumers"].values()):
            break
        time.sleep(0.05)
    return time.perf_counter() - t0


def start_server(name: str, backend: str, tmp: Path, rooms: int, smtp_port: int | None) -> Server:
    drop = None
    if backend == "postgresql":
        found = pg_database()
        if found is None:
            raise SystemExit("postgresql: not reachable on 127.0.0.1:5432")
        db_url, drop = found
    else:
        db_url = f"sqlite+aiosqlite:///{tmp / f'{name}.db'}"
    env = {
        **os.environ,
        "SIGNAGE_DATA_DIR": str(tmp / name),
        "SIGNAGE_DATABASE_URL": db_url,
        "SIGNAGE_SECRET_KEY": "bench",
        "SIGNAGE_REDIS_URL": "",
        "SIGNAGE_DEFAULT_LOCALE": "en",
        "SIGNAGE_SMTP_URL": f"smtp://{HOST}:{smtp_port}" if smtp_port else "",
        "SIGNAGE_MAIL_FROM": f"rooms@{DOMAIN}" if smtp_port else "",
    }
    try:
        cli(env, "db", "upgrade")
        cli(env, "user", "create", "--email", f"bench@{DOMAIN}", "--password", "benchmark", "--role", "member")
        token = cli(env, "token", "create", "--email", f"bench@{DOMAIN}")
        room_ids = seed_rooms(db_url, rooms)
        proc, url = start([PY, "-m", "uvicorn", "signage.app:create_app", "--factory"], env, tmp / f"{name}.log")
    except BaseException:
        if drop:
            drop()
        raise
    return Server(name, proc, url, token, room_ids, drop)


def mails_per_second(sink: Sink, n: int, timeout: float = 60) -> tuple[float, int]:
    """The SMTP server answers at once from now: (mails/s over the next `n` arrivals, n seen)."""
    with sink.lock:
        first = len(sink.arrivals)
        sink.delay = 0.0
    deadline = time.perf_counter() + timeout
    while len(sink.arrivals) < first + n and time.perf_counter() < deadline:
        time.sleep(0.05)
    got = sink.arrivals[first + 1 : first + n]  # from the first mail answered at once (not one still waiting)
    if len(got) < 2:
        return 0.0, len(got)
    return (len(got) - 1) / (got[-1] - got[0]), len(got)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=6, help="load per server, split over the rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--attendees", type=int, default=3, help="guests invited by email in every booking")
    parser.add_argument("--delay", type=float, default=2.0, help="seconds the SMTP server takes to answer a mail")
    parser.add_argument("--mails", type=int, default=500, help="mails timed once the SMTP server is fast")
    parser.add_argument("--rooms", type=int, default=300)
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    sink = Sink(args.delay)
    smtp = Controller(sink, hostname=HOST, port=free_port())
    smtp.start()
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            servers.append(start_server("off", args.backend, tmp, args.rooms, None))
            servers.append(start_server("on", args.backend, tmp, args.rooms, smtp.port))
            off, on = servers
            for s in servers:  # warm-up, slots of their own
                first, s.next = s.next, 10**6
                asyncio.run(post_load(s, args.clients, 1.0, args.attendees))
                s.created, s.seconds, s.other, s.next = 0, 0.0, {}, first
                catch_up(s)
            for _round in range(args.rounds):
                for s in servers:
                    asyncio.run(post_load(s, args.clients, args.seconds / args.rounds, args.attendees))
                    s.caught_up += catch_up(s)
            sent_slow = len(sink.arrivals)
            stop(off.proc)  # the mail rate is one process's, with the machine otherwise quiet
            rate, timed = mails_per_second(sink, args.mails)
        finally:
            for s in servers:
                s.close()
            smtp.stop()
    print(f"{args.backend}, {args.clients} clients, {args.attendees} guests invited by email per booking:")
    for s in servers:
        what = "notifications off (no SMTP)" if s.name == "off" else f"notifications on, SMTP {args.delay:g} s a mail"
        print(
            f"  {what:>36}: {s.rate:6.0f} bookings/s ({s.created} created, other answers {s.other or 'none'}); "
            f"consumers caught up {s.caught_up:.1f} s after the rounds' {s.seconds:.1f} s"
        )
    print(f"  {'ratio on / off':>36}: {on.rate / off.rate:.2f} (goal ≥ 0.9)")
    print(f"  {'mails answered by the slow SMTP':>36}: {sent_slow} meanwhile")
    print(f"  {'one process → local SMTP':>36}: {rate:6.0f} mails/s ({timed} queued invitations timed)")


if __name__ == "__main__":
    sys.exit(main())
