"""Benchmark: media processing against bare Pillow and bare ffmpeg, same files, same run.

    .venv/bin/python bench/media.py [--rounds 5]

Images: `media.images.derive` (upright by EXIF, WebP thumbnail and screen-size
variants) against the same Pillow calls written inline; also the whole upload
check (`inspect` + `derive`) against that same baseline.
Videos: `media.videos.make_playable` (ffmpeg-python command line, run as an
asyncio subprocess reading `-progress pipe:1`) against `subprocess.run` of the
ffmpeg command written by hand with the same options and no progress output;
also the whole background job (probe and integrity read, poster, transcode)
against that bare transcode, to show what the extra steps cost.
Each pair runs alternately; the figure is the median of the rounds, and the ratio
is ours / baseline (1.00 = as fast; the goal is at most 1.10).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media import images, videos  # noqa: E402


def make_images(folder: Path, count: int = 4) -> list[Path]:
    paths = []
    for i in range(count):
        im = Image.effect_mandelbrot((3000, 2000), (-2.2 + i * 0.1, -1.2, 1.0, 1.2), 60).convert("RGB")
        exif = Image.Exif()
        exif[0x0112] = 6 if i % 2 else 1  # every other one "rotated"
        path = folder / f"photo{i}.jpg"
        im.save(path, "JPEG", quality=90, exif=exif)
        paths.append(path)
    return paths


def bare_pillow(src: Path, out: Path) -> None:
    """What derive does, written straight against Pillow."""
    with Image.open(src) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        for width in (3840, 1920, 1280):
            if im.width <= width:
                continue
            im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
            im.save(out / f"bare.w{width}.webp", "WEBP", quality=82)
        im.thumbnail((480, 480))
        im.save(out / "bare.thumb.webp", "WEBP", quality=82)


def ours_derive(src: Path, out: Path) -> None:
    images.derive(src, out, "ours")


def ours_upload(src: Path, out: Path) -> None:
    images.inspect(src)
    images.derive(src, out, "ours")


def make_videos(folder: Path) -> list[Path]:
    specs = {
        "hevc.mov": ["-c:v", "libx265", "-tag:v", "hvc1", "-x265-params", "log-level=error", "-c:a", "aac"],
        "mpeg4.avi": ["-c:v", "mpeg4", "-q:v", "4", "-c:a", "mp3"],
    }
    paths = []
    for name, options in specs.items():
        path = folder / name
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=1280x720:rate=25:duration=4",
            ]
            + ["-f", "lavfi", "-i", "sine=frequency=440:duration=4"]
            + options
            + ["-shortest", str(path)],
            check=True,
        )
        paths.append(path)
    return paths


def bare_ffmpeg(src: Path, dst: Path) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-f", "mp4"]
        + ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
        + ["-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"]
        + [str(dst)],
        check=True,
    )


INFO: dict[Path, videos.VideoInfo] = {}


def ours_transcode(src: Path, dst: Path) -> None:
    """make_playable alone: the probe was done at upload (INFO, measured apart in ours_job)."""
    info = INFO.get(src) or INFO.setdefault(src, videos.inspect(src))
    seen = []

    async def progress(percent: int) -> None:
        seen.append(percent)

    asyncio.run(videos.make_playable(src, dst, info, "transcode", progress))
    assert seen, "no progress reported"


def ours_job(src: Path, dst: Path) -> None:
    """The whole background job: probe and integrity read, poster, transcode."""
    info = videos.inspect(src)

    async def job() -> None:
        await videos.poster(src, dst.with_suffix(".jpg"), info)
        await videos.make_playable(src, dst, info, "transcode", _ignore)

    asyncio.run(job())


async def _ignore(percent: int) -> None:
    pass


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def compare(label: str, ours, bare, inputs: list[Path], out: Path, rounds: int, *, ours_setup=None) -> None:
    ours_times, bare_times = [], []
    for _ in range(rounds):
        bare_times.append(sum(timed(bare, p, out_for(bare, p, out)) for p in inputs))
        ours_times.append(sum(timed(ours, p, out_for(ours, p, out)) for p in inputs))
    o, b = statistics.median(ours_times), statistics.median(bare_times)
    print(f"{label:<46} ours {o * 1000:8.0f} ms   bare {b * 1000:8.0f} ms   ratio {o / b:5.2f}")


def out_for(fn, src: Path, out: Path) -> Path:
    return out / f"{fn.__name__}-{src.stem}.mp4" if fn in (bare_ffmpeg, ours_transcode, ours_job) else out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pictures = make_images(folder)
        clips = make_videos(folder)
        print(
            f"{len(pictures)} JPEGs of 3000x2000 (half EXIF-rotated); {len(clips)} videos of 1280x720, 4 s; {args.rounds} rounds"
        )
        timed(bare_pillow, pictures[0], folder)  # warm caches and imports
        compare("image variants: derive vs Pillow", ours_derive, bare_pillow, pictures, folder, args.rounds)
        compare("image upload: inspect+derive vs Pillow", ours_upload, bare_pillow, pictures, folder, args.rounds)
        for clip in clips:
            INFO[clip] = videos.inspect(clip)
        compare("transcode to H.264/AAC: ours vs ffmpeg", ours_transcode, bare_ffmpeg, clips, folder, args.rounds)
        compare("whole video job (+probe, poster) vs ffmpeg", ours_job, bare_ffmpeg, clips, folder, args.rounds)


if __name__ == "__main__":
    main()
