"""Loaded (through PYTHONPATH) by scripts/test-times only, in pytest and in every server
process it starts, while libfaketime shifts the wall clock.

libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC=1 makes `time.sleep` fail with
EINVAL (Python sleeps with clock_nanosleep on CLOCK_MONOTONIC until an absolute
deadline, which the library rewrites as if it were a faked wall-clock time); faking
the monotonic clock too instead hangs every `threading` wait with a timeout. So the
monotonic clock stays real and `time.sleep` waits in `select`, which takes a relative
timeout. Nothing else is changed: the wall clock (time.time, datetime.now) is faked.
"""

import os
import select
import time

if os.environ.get("FAKETIME") and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1":

    def sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        select.select([], [], [], seconds)

    time.sleep = sleep
