def test_healthz_reports_database_and_events(client, backend):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "backend": backend}
    assert body["events"]["ok"] is True and body["events"]["backend"] == "memory"


def test_healthz_with_redis(make_client, redis_url):
    r = make_client(redis_url=redis_url).get("/healthz")
    assert r.status_code == 200
    assert r.json()["events"]["backend"] == "redis"


def test_healthz_degraded_when_redis_is_unreachable(make_client):
    # Nothing listens on port 1: the bus is down, the server still answers.
    r = make_client(redis_url="redis://127.0.0.1:1/0").get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "degraded"
    assert body["events"]["ok"] is False
    assert body["database"]["ok"] is True
