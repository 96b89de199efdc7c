"""One fleet, several processes, and faults, all with real processes: PostgreSQL,
Redis (the test's own where it is stopped), `signage serve`, simulated screens."""

import shutil
import subprocess
import time

import httpx
import pytest
from fixtures import free_port, make_token, server_settings, unavailable
from screens import CLOCK, SimScreen, add_layout, pair_and_claim

pytestmark = pytest.mark.slow


def publish(base: str, headers: dict, layout_id: int) -> tuple[int, float]:
    r = httpx.post(f"{base}/api/v1/layouts/{layout_id}/publish", headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["version"], time.monotonic()


def arrived(screen: SimScreen, version: int) -> bool:
    return screen.version == version


class Redis:
    """A Redis of the test's own, on another port, that the test stops and starts."""

    def __init__(self, tmp_path):
        if not shutil.which("redis-server"):
            unavailable("redis-server not installed (apt-get install redis-server)")
        self.port, self.dir, self.proc = free_port(), tmp_path, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(args, cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                import socket

                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


@pytest.fixture
def own_redis(tmp_path):
    redis = Redis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_publish_through_one_process_reaches_screens_on_another(backend, make_server, redis_url):
    a, b = make_server(SIGNAGE_REDIS_URL=redis_url), make_server(SIGNAGE_REDIS_URL=redis_url)
    settings = server_settings(a)
    headers = make_token(settings, "editor")
    lid = add_layout(settings)
    version, _t = publish(b.url, headers, lid)
    screens = [SimScreen(a.url, pair_and_claim(b.url, headers, f"S{i}", lid)["key"]) for i in range(5)]
    for s in screens:
        assert s.wait(lambda x: arrived(x, version), 5)
    version, _sent = publish(b.url, headers, lid)
    for s in screens:
        assert s.wait(lambda x: arrived(x, version), 10)
    for s in screens:
        s.stop()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_screens_catch_up_after_the_server_restarts(backend, make_server):
    """Screens stay connected through a restart; what changed meanwhile reaches every one."""
    a, b = make_server(), None
    settings = server_settings(a)
    headers = make_token(settings, "editor")
    lid = add_layout(settings)
    v1, _t = publish(a.url, headers, lid)
    screens = [SimScreen(a.url, pair_and_claim(a.url, headers, f"S{i}", lid)["key"]) for i in range(20)]
    for s in screens:
        assert s.wait(lambda x: arrived(x, v1), 5)
    a.stop(grace=2)  # its screens' streams are open: a short wait, then killed like a crash
    b = make_server()  # another process publishes while the first is down
    v2, _t = publish(b.url, headers, lid)
    b.stop(grace=2)
    a.start()
    for s in screens:
        assert s.wait(lambda x: arrived(x, v2), 15), "a screen was left stale after the restart"
        assert s.connects >= 2
    v3, sent = publish(a.url, headers, lid)
    for s in screens:
        assert s.wait(lambda x: arrived(x, v3), 2)
        s.stop()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_redis_stops_and_returns_mid_run(backend, make_server, own_redis):
    a, b = make_server(SIGNAGE_REDIS_URL=own_redis.url), make_server(SIGNAGE_REDIS_URL=own_redis.url)
    settings = server_settings(a)
    headers = make_token(settings, "editor")
    lid = add_layout(settings, regions=[CLOCK])
    v1, _t = publish(b.url, headers, lid)
    screen = SimScreen(a.url, pair_and_claim(b.url, headers, "S", lid)["key"])
    assert screen.wait(lambda x: arrived(x, v1), 5)

    own_redis.stop()
    health = httpx.get(f"{a.url}/healthz").json()
    assert health["status"] == "degraded" and health["events"]["ok"] is False
    v2, _t = publish(b.url, headers, lid)  # stored; the event cannot travel yet
    assert httpx.get(f"{b.url}/healthz").status_code == 503

    own_redis.start()
    assert screen.wait(lambda x: arrived(x, v2), 15), "the screen missed the publish made while Redis was away"
    deadline = time.monotonic() + 10
    while httpx.get(f"{a.url}/healthz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{a.url}/healthz").json()["status"] == "ok"
    v3, sent = publish(b.url, headers, lid)
    assert screen.wait(lambda x: arrived(x, v3), 2)
    assert a.proc.poll() is None and b.proc.poll() is None
    screen.stop()
