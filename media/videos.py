"""Videos with ffmpeg (through ffmpeg-python): check, probe, make playable, poster.

    info = inspect(path)              # ffprobe + a read of every packet; Invalid if not a whole video
    plan(info)                        # "as_is" | "remux" | "transcode"
    await make_playable(src, dst, info, on_progress)   # H.264/AAC MP4, fast start
    await poster(src, dst, info)      # a JPEG frame

Browsers play H.264 (yuv420p) with AAC in MP4, and VP8/VP9/AV1 in WebM. An MP4
or MOV that is already H.264/AAC is only remuxed (streams copied, index moved to
the front: "fast start"); anything else (HEVC, MPEG-4 part 2 in AVI, MKV …) is
transcoded. Progress comes from ffmpeg's `-progress pipe:1` output.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import ffmpeg

from signage.errors import Invalid
from signage.i18n import gettext as _

WEB_VIDEO = {"h264"}
WEB_AUDIO = {"aac", "mp3", ""}
WEBM_VIDEO = {"vp8", "vp9", "av1"}
WEBM_AUDIO = {"opus", "vorbis", ""}
TRANSCODE = {
    "c:v": "libx264",
    "preset": "veryfast",
    "crf": 23,
    "pix_fmt": "yuv420p",
    "vf": "scale=trunc(iw/2)*2:trunc(ih/2)*2",
    "c:a": "aac",
    "b:a": "128k",
    "movflags": "+faststart",
}
REMUX = {"c": "copy", "movflags": "+faststart"}


@dataclasses.dataclass
class VideoInfo:
    container: str  # "mp4" | "webm" | ffprobe's format name
    duration: float
    width: int
    height: int
    video_codec: str
    audio_codec: str
    pix_fmt: str
    ext: str
    mime: str


def _container(fmt: dict, head: bytes) -> tuple[str, str, str]:
    names = fmt.get("format_name", "")
    brand = (fmt.get("tags") or {}).get("major_brand", "").strip()
    if names.startswith("mov,mp4"):
        return ("mov", "mov", "video/quicktime") if brand == "qt" else ("mp4", "mp4", "video/mp4")
    if names.startswith("matroska"):
        return ("webm", "webm", "video/webm") if b"webm" in head else ("mkv", "mkv", "video/x-matroska")
    others = {"avi": ("avi", "video/x-msvideo"), "ogg": ("ogv", "video/ogg"), "flv": ("flv", "video/x-flv")}
    name = names.split(",")[0]
    ext, mime = others.get(name, ("mpg" if name in ("mpeg", "mpegts") else "", "video/mpeg"))
    if not ext:
        raise Invalid(_("This file is not an image or a video."))
    return name, ext, mime


def inspect(path: Path) -> VideoInfo:
    """Probe a video; Invalid when it is no video, has no picture, or is cut short or damaged."""
    try:
        probe = ffmpeg.probe(str(path))
    except ffmpeg.Error:
        raise Invalid(_("The video is damaged or incomplete.")) from None
    streams = probe.get("streams", [])
    video = next(
        (s for s in streams if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fmt = probe.get("format", {})
    duration = float(fmt.get("duration") or video.get("duration") or 0) if video else 0
    if video is None or duration <= 0 or not video.get("width"):
        raise Invalid(_("This file is not an image or a video."))
    with path.open("rb") as f:
        container, ext, mime = _container(fmt, f.read(64))
    if not whole(path, duration):
        raise Invalid(_("The video is damaged or incomplete."))
    return VideoInfo(
        container=container,
        duration=round(duration, 3),
        width=int(video["width"]),
        height=int(video["height"]),
        video_codec=video.get("codec_name", ""),
        audio_codec=audio.get("codec_name", "") if audio else "",
        pix_fmt=video.get("pix_fmt", ""),
        ext=ext,
        mime=mime,
    )


def whole(path: Path, duration: float) -> bool:
    """Every packet reads without error, up to the duration the header announces (streams copied, not decoded)."""
    check = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-map", "0", "-c", "copy"]
        + ["-f", "null", "-", "-progress", "pipe:1", "-nostats"],
        capture_output=True,
    )
    if check.returncode != 0:
        return False
    times = [
        line.split("=", 1)[1]
        for line in check.stdout.decode(errors="replace").splitlines()
        if line.startswith("out_time_us=")
    ]
    reached = max((int(t) for t in times if t.isdigit()), default=0) / 1e6
    return reached + max(0.3, 0.05 * duration) >= duration


def plan(info: VideoInfo) -> str:
    """How to make `info` playable in a browser: as it is, remuxed, or transcoded."""
    if info.container == "webm" and info.video_codec in WEBM_VIDEO and info.audio_codec in WEBM_AUDIO:
        return "as_is" if info.pix_fmt == "yuv420p" else "transcode"
    if info.container in ("mp4", "mov") and info.video_codec in WEB_VIDEO and info.audio_codec in WEB_AUDIO:
        return "remux" if info.pix_fmt == "yuv420p" else "transcode"
    return "transcode"


def command(src: Path, dst: Path, how: str) -> list[str]:
    """The ffmpeg command line (built by ffmpeg-python) that writes `dst`, with progress on stdout."""
    options = REMUX if how == "remux" else TRANSCODE
    stream = ffmpeg.input(str(src)).output(str(dst), f="mp4", **options)
    args = stream.global_args("-nostdin", "-v", "error", "-progress", "pipe:1", "-nostats").overwrite_output()
    return args.compile()


Progress = Callable[[int], Awaitable[None]]


async def _reap(proc, *streams, readers: tuple = ()) -> None:
    """Kill ffmpeg and read its pipes to their end, so that they close while the loop runs (left
    open, the garbage collector closes them after the loop is gone: "unclosed transport")."""
    if proc.returncode is None:
        proc.kill()
    for stream in streams:
        with contextlib.suppress(Exception):
            await stream.read()
    for task in readers:
        with contextlib.suppress(Exception):
            await task
    await proc.wait()


async def make_playable(src: Path, dst: Path, info: VideoInfo, how: str, on_progress: Progress) -> None:
    """Run ffmpeg; call `on_progress(percent)` as it goes. Raises RuntimeError with ffmpeg's reason."""
    proc = await asyncio.create_subprocess_exec(
        *command(src, dst, how), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    errors = asyncio.create_task(proc.stderr.read())
    last = -1
    try:
        async for raw in proc.stdout:
            key, _sep, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.isdigit():
                percent = min(99, int(int(value) / 1e6 / info.duration * 100))
                if percent > last:
                    last = percent
                    await on_progress(percent)
        code = await proc.wait()
    except BaseException:  # cancelled (the server stops): no ffmpeg, no open pipe left behind
        await _reap(proc, proc.stdout, readers=(errors,))
        raise
    if code != 0:
        dst.unlink(missing_ok=True)
        reason = (await errors).decode(errors="replace").strip().splitlines()
        raise RuntimeError(reason[-1] if reason else f"ffmpeg exited with {code}")


async def poster(src: Path, dst: Path, info: VideoInfo) -> None:
    """A JPEG of the frame a second in (or a third of a shorter video)."""
    at = min(1.0, info.duration / 3)
    args = (
        ffmpeg.input(str(src), ss=at)
        .output(str(dst), vframes=1, vf="scale='min(1280,iw)':-2", **{"q:v": 3})
        .global_args("-nostdin", "-v", "error")
        .overwrite_output()
        .compile()
    )
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _out, err = await proc.communicate()
    except BaseException:
        await _reap(proc, proc.stderr)
        raise
    if proc.returncode != 0 or not dst.exists():
        raise RuntimeError(err.decode(errors="replace").strip() or "no poster frame")
