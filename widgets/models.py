"""Cached data of widgets: the last good weather reading per place, units and language."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow


class WeatherReading(Base):
    __tablename__ = "weather_readings"

    id: Mapped[int] = mapped_column(primary_key=True)
    place: Mapped[str] = mapped_column(String(200), unique=True)  # "q=Shanghai|metric|zh_cn"
    data: Mapped[dict] = mapped_column(JSON)
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
