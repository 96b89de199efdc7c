"""Settings, read once from the environment (and an optional `.env` file).

Every setting is documented in the README; `tests/signage/test_docs.py` checks that.
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
    max_material_mb: int = 50  # a meeting's file (materials, minutes)
    max_image_pixels: int = 50_000_000  # the pixel budget of one image: larger ones are refused
    secure_cookies: bool = False
    webpage_hosts: tuple[str, ...] = ()  # hosts the web page widget may show
    cors_origins: tuple[str, ...] = ()  # other sites (https://oa.example.com) whose pages may call the API
    weather_api_key: str = ""
    weather_url: str = "https://api.openweathermap.org/data/2.5"
    checkin_opens_minutes: int = 10  # check-in opens this long before a meeting (rooms may differ)
    checkin_grace_minutes: int = 15  # and closes this long after its start; then a no-show is released
    test_clock: bool = False  # POST /api/v1/clock may shift the booking clock (tests, demos)
    events_retention_days: int = 90  # the event log (GET /api/v1/events) keeps this many days
    smtp_url: str = ""  # smtp://host:port, smtp+starttls://…, smtps://user:pass@host:465; empty: email off
    mail_from: str = ""  # the site's address: invitations come from it and name it as ORGANIZER
    approval_hours: int = 48  # an OA's approval not given within this is decided by the room's rule; 0: never
    webhook_allow_private: bool = False  # webhooks (and importers, door controllers) may call private addresses
    public_url: str = ""  # where people open the site (https://rooms.example.com): links in mails
    reminder_minutes: int = 15  # a reminder mail this long before each meeting; 0: none
    service_escalate_minutes: int = 5  # a service call nobody accepted this long is escalated; 0: never
    service_lead_minutes: int = 15  # a meeting's wanted services become a desk task this long before it starts
    speech_engine: str = "espeak-ng"  # spoken alerts (signage/speech.py): espeak-ng, off, or module:function

    def __post_init__(self) -> None:
        from signage.notify.smtp import parse_from, parse_url

        parse_from(self.mail_from, parse_url(self.smtp_url))  # a wrong URL or address stops the start, saying why
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise ValueError(f"SIGNAGE_PUBLIC_URL must start with http:// or https:// (got {self.public_url!r})")
        if not 0 <= self.reminder_minutes <= 7 * 24 * 60:
            raise ValueError(f"SIGNAGE_REMINDER_MINUTES must be 0 (none) to 10080 (got {self.reminder_minutes})")
        if not 0 <= self.service_lead_minutes <= 24 * 60:
            raise ValueError(f"SIGNAGE_SERVICE_LEAD_MINUTES must be 0 to 1440 (got {self.service_lead_minutes})")

    @property
    def smtp(self):
        """The SMTP server (`signage.notify.smtp.Smtp`), or None: email is off."""
        from signage.notify.smtp import parse_url

        return parse_url(self.smtp_url)

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

    @property
    def max_material_bytes(self) -> int:
        return self.max_material_mb * 1024 * 1024

    @property
    def materials_dir(self) -> Path:
        return self.data_dir / "materials"

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
            max_material_mb=config("SIGNAGE_MAX_MATERIAL_MB", cast=int, default=50),
            max_image_pixels=config("SIGNAGE_MAX_IMAGE_PIXELS", cast=int, default=50_000_000),
            secure_cookies=config("SIGNAGE_SECURE_COOKIES", cast=bool, default=False),
            webpage_hosts=host_list(config("SIGNAGE_WEBPAGE_HOSTS", default="")),
            cors_origins=origin_list(config("SIGNAGE_CORS_ORIGINS", default="")),
            weather_api_key=config("SIGNAGE_WEATHER_API_KEY", default=""),
            weather_url=config("SIGNAGE_WEATHER_URL", default="https://api.openweathermap.org/data/2.5"),
            checkin_opens_minutes=config("SIGNAGE_CHECKIN_OPENS_MINUTES", cast=int, default=10),
            checkin_grace_minutes=config("SIGNAGE_CHECKIN_GRACE_MINUTES", cast=int, default=15),
            test_clock=config("SIGNAGE_TEST_CLOCK", cast=bool, default=False),
            events_retention_days=config("SIGNAGE_EVENTS_RETENTION_DAYS", cast=int, default=90),
            smtp_url=config("SIGNAGE_SMTP_URL", default=""),
            mail_from=config("SIGNAGE_MAIL_FROM", default=""),
            approval_hours=config("SIGNAGE_APPROVAL_HOURS", cast=int, default=48),
            webhook_allow_private=config("SIGNAGE_WEBHOOK_ALLOW_PRIVATE", cast=bool, default=False),
            public_url=config("SIGNAGE_PUBLIC_URL", default=""),
            reminder_minutes=config("SIGNAGE_REMINDER_MINUTES", cast=int, default=15),
            service_escalate_minutes=config("SIGNAGE_SERVICE_ESCALATE_MINUTES", cast=int, default=5),
            service_lead_minutes=config("SIGNAGE_SERVICE_LEAD_MINUTES", cast=int, default=15),
            speech_engine=config("SIGNAGE_SPEECH_ENGINE", default="espeak-ng"),
        )


# The settings of the app serving the current request (set by signage.app), for code
# that has no request at hand, such as widget data loaders.
current_settings: contextvars.ContextVar[Settings | None] = contextvars.ContextVar("settings", default=None)


def site_settings() -> Settings:
    return current_settings.get() or Settings()


def host_list(value: str) -> tuple[str, ...]:
    """ "example.com, *.corp.cn" → ("example.com", "*.corp.cn")"""
    return tuple(h.strip().lower() for h in value.replace(";", ",").split(",") if h.strip())


def origin_list(value: str) -> tuple[str, ...]:
    """ "https://oa.example.com, http://intranet:8080/" → ("https://oa.example.com", "http://intranet:8080")"""
    return tuple(o.strip().rstrip("/").lower() for o in value.replace(";", ",").split(",") if o.strip())


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
