"""The widget registry: every type's option schema, validation messages, rendering
(the same HTML in the preview and on the player), and the weather provider through
a local fake of OpenWeatherMap."""

import datetime as dt
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from fixtures import api_token, csrf, in_app, login, rows
from images import sized
from sqlalchemy import select, update

import widgets
from signage.errors import Invalid
from widgets import weather
from widgets.models import WeatherReading
from widgets.text import formatted

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)

TYPES = [
    "clock",
    "weather",
    "image",
    "video",
    "text",
    "qrcode",
    "webpage",
    "room_status",
    "meeting_list",
    "waiting_room",
]


def preview(client, widget, **options):
    params = {"widget": widget, **{f"o.{k}": v for k, v in options.items()}}
    r = client.get("/widgets/preview/render", params=params)
    assert r.status_code == 200, r.text
    return r.text


def test_every_type_is_registered_with_a_schema_and_a_template():
    from signage.templating import env

    assert list(widgets.REGISTRY) == TYPES
    for name, widget in widgets.REGISTRY.items():
        defaults = widgets.validate(name, {})
        env.get_template(widget.template)
        fields = widgets.form_fields(name, defaults)
        assert [f["name"] for f in fields] == list(defaults), name
        assert all(f["label"] for f in fields)


@pytest.mark.parametrize(
    "widget, options, field, message",
    [
        ("clock", {"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ("clock", {"style": "sundial"}, "style", "Input should be 'digital' or 'analog'"),
        ("clock", {"date_format": "weird"}, "date_format", "Input should be"),
        ("text", {"text": "x" * 2001}, "text", "at most 2000 characters"),
        ("text", {"color": "red"}, "color", "should match pattern"),
        ("text", {"speed": 0}, "speed", "greater than or equal to 10"),
        ("qrcode", {"data": ""}, "data", "at least 1 character"),
        ("webpage", {"url": "javascript:alert(1)"}, "url", "must start with http:// or https://"),
        (
            "webpage",
            {"url": "https://evil.example.net/"},
            "url",
            "evil.example.net is not on the list of allowed hosts",
        ),
        ("weather", {"lat": 31.2}, "options", "give both latitude and longitude"),
        ("weather", {"units": "kelvin"}, "units", "Input should be 'metric' or 'imperial'"),
        ("video", {"media_id": "abc"}, "media_id", "valid integer"),
        ("image", {"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_bad_options_are_refused_with_clear_messages(widget, options, field, message):
    with pytest.raises(Invalid) as caught:
        widgets.validate(widget, options)
    problems = {d["field"]: d["message"] for d in caught.value.detail}
    assert field in problems and message in problems[field], problems


def test_text_is_escaped_with_simple_formatting():
    assert formatted('<script>alert("x")</script> **Sale** *today*\nonly') == (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; <strong>Sale</strong> <em>today</em><br>only"
    )


def test_preview_page_renders_each_type(client):
    login(client, "editor")
    for name in TYPES:
        page = client.get(f"/widgets/preview?widget={name}")
        assert page.status_code == 200
        assert f'data-widget="{name}"' in page.text
        assert 'hx-get="/widgets/preview/render"' in page.text
    assert client.get("/widgets/preview?widget=nope").status_code == 400


def test_preview_renders_options_live_and_shows_errors(client):
    login(client, "editor")
    html = preview(
        client, "clock", timezone="Europe/Paris", hour12="on", style="analog", date_format="iso", language="zh_CN"
    )
    assert 'data-tz="Europe/Paris"' in html and 'data-hour12="true"' in html and "w-clock-face" in html
    assert 'data-date-format="iso"' in html and 'data-locale="zh-CN"' in html
    html = preview(client, "clock", timezone="Nowhere/Land")
    assert 'role="alert"' in html and "unknown time zone" in html
    html = preview(client, "text", text="<b>hi</b> **big**", scroll="on", speed="120")
    assert (
        "&lt;b&gt;hi&lt;/b&gt; <strong>big</strong>" in html
        and 'data-scroll="true"' in html
        and 'data-speed="120"' in html
    )


def test_qr_code_is_inline_svg_of_the_data(client):
    import segno

    login(client, "editor")
    html = preview(client, "qrcode", data="https://example.com/checkin?room=7", caption="<Scan me>")
    assert "<svg" in html and 'class="segno"' in html
    assert "&lt;Scan me&gt;" in html and "<Scan me>" not in html
    size = segno.make("https://example.com/checkin?room=7", error="m", micro=False).symbol_size(scale=10, border=2)[0]
    assert f'viewBox="0 0 {size} {size}"' in html


def test_webpage_only_from_allowed_hosts(make_client):
    client = make_client(webpage_hosts=("intranet.example.com", "*.corp.example"))
    login(client, "editor")
    html = preview(client, "webpage", url="https://news.corp.example/board", refresh="5")
    assert '<iframe class="w-webpage"' in html and 'src="https://news.corp.example/board"' in html
    assert 'sandbox="allow-scripts allow-same-origin allow-forms"' in html and 'data-refresh="5"' in html
    assert "not on the list of allowed hosts" in preview(client, "webpage", url="https://example.org/")
    # A host later taken off the list: the screen shows a notice instead of the page, and nothing fails.
    other = make_client(webpage_hosts=())
    login(other, "editor")
    lid = layout_with(other, "webpage", {"url": "https://intranet.example.com/"}, validate=False)
    page = other.get(f"/layouts/{lid}/preview").text
    assert "<iframe" not in page and "needs new settings" in page


def layout_with(client, widget, options, validate=True):
    """A layout with one region of `widget`, its options stored directly."""
    from playlists.models import Layout

    r = client.post(
        "/layouts", data={"name": "W", "size": "1920x1080", "csrf_token": csrf(client)}, follow_redirects=False
    )
    lid = int(r.headers["location"].rsplit("/", 1)[1])
    stored = widgets.validate(widget, options) if validate else options

    async def put():
        async with client.app.state.db.begin() as s:
            layout = await s.get(Layout, lid)
            layout.regions = [
                {"id": "r1", "x": 0, "y": 0, "w": 100, "h": 100, "z": 0, "widget": widget, "options": stored}
            ]

    in_app(client, put)
    return lid


def test_image_and_video_widgets_use_the_library(client, videos):
    from media.models import Media

    headers = api_token(client, "editor")
    login(client, "editor")
    files = [("files", ("wide.jpg", sized(2000, 1000), "image/jpeg"))]
    image = client.post("/api/v1/media", headers=headers, files=files).json()["items"][0]
    html = preview(client, "image", media_id=image["id"], fit="cover")
    assert f'src="{image["url"]}"' in html and "object-fit: cover" in html
    assert f"{image['variants']['1920']} 1920w" in html

    path = videos["hevc.mov"]
    video = client.post("/api/v1/media", headers=headers, files=[("files", (path.name, path.read_bytes()))]).json()[
        "items"
    ][0]
    assert "still being processed" in preview(client, "video", media_id=video["id"])
    from fixtures import wait_for

    wait_for(lambda: rows(client, select(Media).where(Media.id == video["id"], Media.status == "ready")))
    [item] = rows(client, select(Media).where(Media.id == video["id"]))
    html = preview(client, "video", media_id=video["id"], loop="on", mute="on", show_poster="on")
    assert (
        f'src="/media/files/{item.sha256}.play.mp4"' in html
        and f'poster="/media/files/{item.sha256}.poster.jpg"' in html
    )
    attributes = re.compile(r"\s(loop|muted)(?=[\s>])")
    assert sorted(attributes.findall(html)) == ["loop", "muted"]
    html = preview(client, "video", media_id=video["id"], show_poster="")
    assert attributes.findall(html) == [] and "poster=" not in html
    assert "No video chosen" in preview(client, "video", media_id=image["id"])  # an image is no video


# ---------------------------------------------------------------- weather, against a local fake provider


class FakeOWM(ThreadingHTTPServer):
    """A tiny stand-in for api.openweathermap.org/data/2.5/weather, in Kelvin as the real one."""

    def __init__(self):
        self.requests: list[dict] = []
        self.mode = "ok"
        super().__init__(("127.0.0.1", 0), FakeHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/data/2.5"


class FakeHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.requests.append({"path": parts.path, **query})
        if self.server.mode == "down":
            return self.answer(500, {"cod": 500, "message": "internal"})
        if query.get("APPID") != "test-key":
            return self.answer(401, {"cod": 401, "message": "Invalid API key"})
        if query.get("q", "").lower().startswith("atlantis"):
            return self.answer(404, {"cod": "404", "message": "city not found"})
        name = "上海市" if query.get("lang") == "zh_cn" else "Shanghai"
        status = "晴" if query.get("lang") == "zh_cn" else "clear sky"
        self.answer(
            200,
            {
                "coord": {"lon": 121.47, "lat": 31.23},
                "weather": [{"id": 800, "main": "Clear", "description": status, "icon": "01d"}],
                "main": {
                    "temp": 296.15,
                    "feels_like": 295.15,
                    "temp_min": 294,
                    "temp_max": 297,
                    "pressure": 1012,
                    "humidity": 60,
                },
                "wind": {"speed": 3.1, "deg": 120},
                "clouds": {"all": 0},
                "visibility": 10000,
                "dt": 1764000000,
                "sys": {"country": "CN", "sunrise": 1763990000, "sunset": 1764030000},
                "timezone": 28800,
                "id": 1796236,
                "name": name,
                "cod": 200,
            },
        )

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def owm():
    weather._failed.clear()
    server = FakeOWM()
    yield server
    server.shutdown()
    server.server_close()
    weather._failed.clear()


def test_weather_reading_is_fetched_then_cached(make_client, owm):
    client = make_client(weather_api_key="test-key", weather_url=owm.url)
    login(client, "editor")
    html = preview(client, "weather", city="Shanghai", units="metric", language="zh_cn")
    assert "上海市" in html and "23°C" in html and "晴" in html and "☀" in html and "w-weather-unavailable" not in html
    assert owm.requests == [{"path": "/data/2.5/weather", "q": "Shanghai", "lang": "zh_cn", "APPID": "test-key"}]
    html = preview(client, "weather", city="Shanghai", units="metric", language="zh_cn")
    assert "23°C" in html and len(owm.requests) == 1  # from the cache
    html = preview(client, "weather", lat="31.23", lon="121.47", units="imperial", language="en")
    assert "Shanghai" in html and "73°F" in html and "clear sky" in html
    assert owm.requests[-1]["lat"] == "31.23" and owm.requests[-1]["lon"] == "121.47"
    assert len(rows(client, select(WeatherReading))) == 2


def test_weather_unavailable_shows_the_last_good_reading(make_client, owm):
    client = make_client(weather_api_key="test-key", weather_url=owm.url)
    login(client, "editor")
    preview(client, "weather", city="Shanghai")

    async def age():
        async with client.app.state.db.begin() as s:
            old = dt.datetime(2026, 11, 25, 1, 30, tzinfo=dt.UTC)
            await s.execute(update(WeatherReading).values(fetched_at=old))

    in_app(client, age)
    owm.mode = "down"
    html = preview(client, "weather", city="Shanghai")
    assert "w-weather-unavailable" in html and "Weather unavailable: the weather service answered with an error" in html
    assert "上海市" in html and "23°C" in html  # the last good reading
    assert "Last reading at" in html and "9:30" in html  # 01:30 UTC shown in Asia/Shanghai
    calls = len(owm.requests)
    preview(client, "weather", city="Shanghai")
    assert len(owm.requests) == calls  # the provider is left alone for a while after failing


def test_weather_without_key_or_network_or_place(make_client, owm):
    client = make_client(weather_api_key="", weather_url=owm.url)
    login(client, "editor")
    html = preview(client, "weather", city="Shanghai")
    assert "Weather unavailable: no API key is set (SIGNAGE_WEATHER_API_KEY)" in html and owm.requests == []
    assert "No place chosen" in preview(client, "weather")

    closed = make_client(weather_api_key="test-key", weather_url="http://127.0.0.1:9/data/2.5")
    login(closed, "editor")
    html = preview(closed, "weather", city="Beijing")
    assert "Weather unavailable: no connection to the weather service" in html

    keyed = make_client(weather_api_key="wrong-key", weather_url=owm.url)
    login(keyed, "editor")
    assert "the API key was refused" in preview(keyed, "weather", city="Shenzhen")
    right = make_client(weather_api_key="test-key", weather_url=owm.url)
    login(right, "editor")
    assert "the place was not found" in preview(right, "weather", city="Atlantis")


def test_player_and_preview_render_the_same_html(client):
    """The layout preview (what the player renders) holds the widget HTML the preview page shows."""
    login(client, "editor")
    lid = layout_with(client, "text", {"text": "Hello **world**", "scroll": True})
    expected = preview(client, "text", text="Hello **world**", scroll="on")
    inner = expected.split('class="preview-region">', 1)[1].rsplit("</div>", 1)[0]
    assert inner.strip() in client.get(f"/layouts/{lid}/preview").text
