"""Videos: probed on upload, made browser-playable in the background (H.264/AAC MP4,
fast start), a poster frame; progress live; a restart resumes the work."""

import datetime as dt
import json
import threading

import httpx
import pytest
from fixtures import api_token, in_app, login, make_token, rows, run_sync, server_settings, wait_for
from sqlalchemy import select, update
from videos import KINDS, moov_before_mdat, probe

from media.models import Media, MediaJob
from signage.db import utcnow


def upload_video(client, headers, path):
    r = client.post("/api/v1/media", headers=headers, files=[("files", (path.name, path.read_bytes(), "video/mp4"))])
    assert r.status_code == 201, r.text
    return r.json()["items"][0]


def settled(client, headers, media_id):
    def done():
        item = client.get(f"/api/v1/media/{media_id}", headers=headers).json()
        return item if item["status"] != "processing" else None

    return wait_for(done, timeout=60)


@pytest.mark.parametrize("name", list(KINDS))
def test_every_container_becomes_playable(client, videos, name):
    headers = api_token(client, "editor")
    created = upload_video(client, headers, videos[name])
    assert created["status"] == "processing" and created["kind"] == "video"
    assert created["duration"] == pytest.approx(1.0, abs=0.1)
    assert (created["width"], created["height"]) == (160, 120)
    item = settled(client, headers, created["id"])
    assert item["status"] == "ready" and item["progress"] == 100, item
    [media] = rows(client, select(Media).where(Media.id == item["id"]))
    folder = client.app.state.settings.media_dir / media.sha256[:2]
    played = folder / media.url.rsplit("/", 1)[1]
    streams = {s["codec_type"]: s["codec_name"] for s in probe(played)["streams"]}
    if name == "vp9.webm":  # browsers play WebM VP9/Opus as it is
        assert media.play_file == media.file_name and streams == {"video": "vp9", "audio": "opus"}
    else:
        assert media.play_file == f"{media.sha256}.play.mp4"
        assert streams == {"video": "h264", "audio": "aac"}
        assert moov_before_mdat(played), "not fast start"
        video = next(s for s in probe(played)["streams"] if s["codec_type"] == "video")
        assert video["pix_fmt"] == "yuv420p"
    assert (folder / media.poster_file).stat().st_size > 0
    assert client.get(item["poster_url"]).headers["content-type"] == "image/jpeg"
    assert client.get(item["thumb_url"]).headers["content-type"] == "image/webp"
    r = client.get(item["url"], headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100
    [job] = rows(client, select(MediaJob))
    assert (job.status, job.attempts, job.progress) == ("done", 1, 100)


def test_transcode_progress_is_published(client, videos):
    headers = api_token(client, "editor")
    seen = []

    async def listen(ready: threading.Event):
        async with client.app.state.bus.subscribe("media") as sub:
            ready.set()
            async for _channel, data in sub:
                seen.append(data)
                if data["type"] in ("ready", "failed"):
                    return

    ready = threading.Event()
    listener = threading.Thread(target=lambda: in_app(client, listen, ready))
    listener.start()
    ready.wait(5)
    created = upload_video(client, headers, videos["hevc.mov"])
    listener.join(60)
    types = [e["type"] for e in seen]
    assert types[0] == "added" and types[-1] == "ready", types
    progress = [e["progress"] for e in seen if e["type"] == "progress"]
    assert progress and progress == sorted(progress) and all(0 <= p < 100 for p in progress)
    assert all(e["id"] == created["id"] for e in seen)


def stop_worker(client):
    in_app(client, client.app.state.media_worker.stop)


def test_a_job_left_running_by_a_dead_process_is_retried_after_restart(make_client, videos):
    first = make_client()
    stop_worker(first)  # this process "dies" before finishing the job
    headers = api_token(first, "editor")
    created = upload_video(first, headers, videos["mpeg4.avi"])

    async def crashed_mid_job():
        async with first.app.state.db.begin() as s:
            await s.execute(
                update(MediaJob).values(
                    status="running",
                    attempts=1,
                    progress=40,
                    worker="gone:1",
                    heartbeat_at=utcnow() - dt.timedelta(minutes=5),
                )
            )

    in_app(first, crashed_mid_job)
    second = make_client()  # a restarted server on the same database and data dir
    item = settled(second, headers, created["id"])
    assert item["status"] == "ready"
    [job] = rows(second, select(MediaJob))
    assert (job.status, job.attempts) == ("done", 2)


def test_a_job_still_running_elsewhere_is_left_alone(make_client, videos):
    first = make_client()
    stop_worker(first)
    headers = api_token(first, "editor")
    upload_video(first, headers, videos["mpeg4.avi"])

    async def running_elsewhere():
        async with first.app.state.db.begin() as s:
            await s.execute(update(MediaJob).values(status="running", worker="alive:2", heartbeat_at=utcnow()))

    in_app(first, running_elsewhere)
    second = make_client()
    in_app(second, second.app.state.media_worker.requeue_stale)
    assert in_app(second, second.app.state.media_worker.claim) is None
    [job] = rows(second, select(MediaJob))
    assert (job.status, job.worker) == ("running", "alive:2")


def test_a_failure_shows_its_reason(client, videos):
    stop_worker(client)
    headers = api_token(client, "editor")
    created = upload_video(client, headers, videos["h264.mkv"])
    [media] = rows(client, select(Media))
    original = client.app.state.settings.media_dir / media.sha256[:2] / media.file_name
    original.write_bytes(original.read_bytes()[:4000])  # the stored file is damaged behind our back
    client.portal.call(client.app.state.media_worker.start)
    item = settled(client, headers, created["id"])
    assert item["status"] == "failed" and item["error"] == "The video is damaged or incomplete."
    login(client, "editor")
    assert "Failed: The video is damaged or incomplete." in client.get(f"/media/{item['id']}").text
    [job] = rows(client, select(MediaJob))
    assert job.status == "failed" and job.error == "The video is damaged or incomplete."


def test_library_page_shows_failure_and_progress(client, videos):
    stop_worker(client)
    login(client, "editor")
    headers = api_token(client, "editor")
    upload_video(client, headers, videos["hevc.mov"])
    page = client.get("/media").text
    assert 'data-status="processing"' in page and "<progress" in page

    async def fail():
        async with client.app.state.db.begin() as s:
            await s.execute(update(Media).values(status="failed", error="ffmpeg said no"))

    in_app(client, fail)
    assert "Failed: ffmpeg said no" in client.get("/media").text


def test_progress_reaches_the_library_page_over_sse(make_server, videos):
    """A real server: the SSE stream of /events/media carries progress, then "ready"."""
    server = make_server()

    headers = make_token(server_settings(server), "editor")
    events: list[tuple[str, dict]] = []
    opened = threading.Event()

    def listen():
        with httpx.stream(
            "GET", server.url + "/events/media", headers={**headers, "Accept": "text/event-stream"}, timeout=60
        ) as r:
            assert r.status_code == 200
            event = None
            for line in r.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                    if event == "hello":
                        opened.set()
                elif line.startswith("data:") and event != "hello":
                    events.append((event, json.loads(line.split(":", 1)[1])))
                    if event in ("ready", "failed"):
                        return

    t = threading.Thread(target=listen)
    t.start()
    assert opened.wait(10)
    path = videos["hevc.mov"]
    r = httpx.post(server.url + "/api/v1/media", headers=headers, files=[("files", (path.name, path.read_bytes()))])
    assert r.status_code == 201
    t.join(60)
    kinds = [e for e, _d in events]
    assert kinds[0] == "added" and "progress" in kinds and kinds[-1] == "ready", kinds


def test_event_stream_needs_an_event_source(client):
    headers = api_token(client, "editor")
    r = client.get("/events/media", headers=headers)
    assert r.status_code == 400 and "event stream" in r.text


def test_two_processes_never_claim_the_same_job(make_client, videos):
    """Workers of two apps on one database race for one queued job: exactly one wins."""
    first, second = make_client(), make_client()
    stop_worker(first)
    stop_worker(second)
    headers = api_token(first, "editor")
    upload_video(first, headers, videos["mpeg4.avi"])
    for _round in range(3):
        got: list = []
        racers = [
            threading.Thread(target=lambda c=c, got=got: got.append(in_app(c, c.app.state.media_worker.claim)))
            for c in (first, second)
        ]
        for t in racers:
            t.start()
        for t in racers:
            t.join()
        [job] = rows(first, select(MediaJob))
        assert sorted(got, key=lambda x: x is None) == [job.id, None], got

        async def requeue():
            async with first.app.state.db.begin() as s:
                await s.execute(update(MediaJob).values(status="queued"))

        in_app(first, requeue)
    [job] = rows(first, select(MediaJob))
    assert job.attempts == 3


@pytest.mark.slow
def test_killed_server_mid_transcode_the_next_one_finishes_the_job(make_server, tmp_path):
    """A real process killed (SIGKILL) while transcoding; a restarted server takes the job again at once."""
    from videos import make_video

    first = make_server()
    headers = make_token(server_settings(first), "editor")
    clip = make_video(tmp_path / "long.avi", ["-c:v", "mpeg4", "-q:v", "5", "-c:a", "mp3"], seconds=20, size="1280x720")
    r = httpx.post(first.url + "/api/v1/media", headers=headers, files=[("files", (clip.name, clip.read_bytes()))])
    assert r.status_code == 201
    media_id = r.json()["items"][0]["id"]

    async def job_state():
        from signage.db import Database

        db = Database(server_settings(first).db_url)
        async with db.session() as s:
            job = await s.scalar(select(MediaJob))
        await db.close()
        return job.status if job else None

    def transcoding():  # a worker has taken the job and not finished it
        return run_sync(job_state()) == "running"

    wait_for(transcoding, timeout=30, every=0.02)
    first.proc.kill()
    first.proc.wait()
    second = make_server()

    def ready():
        item = httpx.get(f"{second.url}/api/v1/media/{media_id}", headers=headers).json()
        return item if item["status"] != "processing" else None

    item = wait_for(ready, timeout=60)
    assert item["status"] == "ready" and item["url"].endswith(".play.mp4")
    r = httpx.get(second.url + item["url"], headers={"Range": "bytes=0-7"})
    assert r.status_code == 206 and r.content[4:8] == b"ftyp"
    log = second.log.read_text()
    assert "Traceback" not in log, log[-2000:]

    async def attempts():
        from signage.db import Database

        db = Database(server_settings(second).db_url)
        async with db.session() as s:
            job = await s.scalar(select(MediaJob))
        await db.close()
        return job.status, job.attempts

    assert run_sync(attempts()) == ("done", 2)  # the first try died with its process
