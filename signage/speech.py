"""Spoken sentences, rendered on the server (SPEC B9: the desk and waiting-room screens speak).

    path = await speech.render(settings, "三号会议室 请求 茶水服务", "zh_CN")
    → Path(".../data/speech/3f2a….wav")      # made once per engine, language and text

Browsers are no help here: Chromium on Linux has no Chinese voice without
speech-dispatcher. The engine is a setting (SIGNAGE_SPEECH_ENGINE):

- `espeak-ng` (the default): the Debian package, offline, Mandarin (`cmn`) and English.
- `off`: no voice (the desk still chimes and shows the call).
- `package.module:function`: a site's own engine, `function(text, locale) -> bytes` (WAV
  or Ogg), called in a worker thread.

Each sentence's audio is kept in `<data dir>/speech/` under the hash of engine, language
and text; a second request is a file read. Files are written to a temporary name and
renamed, so two processes making one sentence at once both end with a whole file.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import os
import shutil
import tempfile
from pathlib import Path

VOICES = {"zh_CN": ("cmn", "160"), "en": ("en-us", "165")}  # espeak-ng voice and words a minute
MAX_TEXT = 300


class SpeechUnavailable(Exception):
    """The engine is off or not installed."""


def cache_path(settings, text: str, locale: str) -> Path:
    digest = hashlib.sha256(f"{settings.speech_engine}\0{locale}\0{text}".encode()).hexdigest()
    return settings.data_dir / "speech" / f"{digest[:40]}.wav"


async def render(settings, text: str, locale: str) -> Path:
    """The file of `text` spoken in `locale` (made now unless cached); SpeechUnavailable when
    the engine is off or missing."""
    text = " ".join(text.split())[:MAX_TEXT]
    path = cache_path(settings, text, locale)
    if path.exists():
        return path
    engine = settings.speech_engine
    if engine == "off":
        raise SpeechUnavailable("speech is off (SIGNAGE_SPEECH_ENGINE=off)")
    if engine == "espeak-ng":
        audio = await espeak(text, locale)
    else:
        module, _colon, name = engine.partition(":")
        audio = await asyncio.to_thread(getattr(importlib.import_module(module), name), text, locale)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(audio)
    os.replace(tmp, path)
    return path


def media_type(path: Path) -> str:
    """WAV or Ogg, by the file's first bytes (a site's engine may make either)."""
    with path.open("rb") as f:
        return "audio/ogg" if f.read(4) == b"OggS" else "audio/wav"


async def espeak(text: str, locale: str) -> bytes:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SpeechUnavailable("espeak-ng is not installed (apt-get install espeak-ng)")
    voice, speed = VOICES.get(locale, VOICES["en"])
    # The text on stdin, never as an argument: nothing in it can read as an option. A file,
    # not --stdout: a stream's WAV header cannot say its length.
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "speech.wav"
        proc = await asyncio.create_subprocess_exec(
            binary,
            "-v",
            voice,
            "-s",
            speed,
            "-w",
            str(out),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await proc.communicate(text.encode())
        if proc.returncode != 0 or not out.exists():
            raise SpeechUnavailable(f"espeak-ng failed: {err.decode(errors='replace')[:200]}")
        return out.read_bytes()
