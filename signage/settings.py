"""Settings, read once from the environment (and an optional `.env` file).

Every setting is documented in the README; `tests/test_docs.py` checks that.
`Settings.from_env()` reads them; tests build `Settings(...)` directly.
"""

from __future__ import annotations

import contextvars
import dataclasses
import os
import secrets
from pathlib import Path

from starlette.config import Config

from signage.i18n import lazy

ROLES = ("admin", "editor", "room_admin", "service", "member")
ROLE_LABELS = {  # English; translated where shown
    "admin": lazy("IT admin"),
    "editor": lazy("Content editor"),
    "room_admin": lazy("Room admin"),
    "service": lazy("Service desk"),
    "member": lazy("Employee"),
}


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./data")
    database_url: str = ""  # default: SQLite file in data_dir
    redis_url: str = ""  # empty: in-process events
    redis_prefix: str = "signage:"
    secret_key: str = ""
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_CN"
    max_upload_mb: int = 200
    secure_cookies: bool = False
    demo: bool = False
    webpage_hosts: tuple[str, ...] = ()  # hosts the web page widget may show
    weather_api_key: str = ""
    weather_url: str = "https://api.openweathermap.org/data/2.5"
    checkin_opens_minutes: int = 10  # check-in opens this long before a meeting (rooms may differ)
    checkin_grace_minutes: int = 15  # and closes this long after its start; then a no-show is released
    test_clock: bool = False  # POST /api/v1/clock may shift the booking clock (tests, demos)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'signage.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @classmethod
    def from_env(cls, env_file: str | None = ".env") -> Settings:
        config = Config(env_file if env_file and os.path.exists(env_file) else None)
        data_dir = Path(config("SIGNAGE_DATA_DIR", default="./data"))
        return cls(
            data_dir=data_dir,
            database_url=config("SIGNAGE_DATABASE_URL", default=""),
            redis_url=config("SIGNAGE_REDIS_URL", default=""),
            redis_prefix=config("SIGNAGE_REDIS_PREFIX", default="signage:"),
            secret_key=config("SIGNAGE_SECRET_KEY", default="") or _stored_secret(data_dir),
            timezone=config("SIGNAGE_TIMEZONE", default="Asia/Shanghai"),
            default_locale=config("SIGNAGE_DEFAULT_LOCALE", default="zh_CN"),
            max_upload_mb=config("SIGNAGE_MAX_UPLOAD_MB", cast=int, default=200),
            secure_cookies=config("SIGNAGE_SECURE_COOKIES", cast=bool, default=False),
            webpage_hosts=host_list(config("SIGNAGE_WEBPAGE_HOSTS", default="")),
            weather_api_key=config("SIGNAGE_WEATHER_API_KEY", default=""),
            weather_url=config("SIGNAGE_WEATHER_URL", default="https://api.openweathermap.org/data/2.5"),
            checkin_opens_minutes=config("SIGNAGE_CHECKIN_OPENS_MINUTES", cast=int, default=10),
            checkin_grace_minutes=config("SIGNAGE_CHECKIN_GRACE_MINUTES", cast=int, default=15),
            test_clock=config("SIGNAGE_TEST_CLOCK", cast=bool, default=False),
        )


# The settings of the app serving the current request (set by signage.app), for code
# that has no request at hand, such as widget data loaders.
current_settings: contextvars.ContextVar[Settings | None] = contextvars.ContextVar("settings", default=None)


def site_settings() -> Settings:
    return current_settings.get() or Settings()


def host_list(value: str) -> tuple[str, ...]:
    """ "example.com, *.corp.cn" → ("example.com", "*.corp.cn")"""
    return tuple(h.strip().lower() for h in value.replace(";", ",").split(",") if h.strip())


def _stored_secret(data_dir: Path) -> str:
    """A random secret kept in the data dir, so sessions survive restarts.

    Several processes sharing a database should set SIGNAGE_SECRET_KEY instead.
    """
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
