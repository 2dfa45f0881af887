"""The helpers the measurements share: process CPU time and the synthetic camera frame."""

import os
import time

import numpy as np

from skd_ros.cpu_time import process_cpu_seconds
from skd_ros.tools.frames import synthetic_frame


def test_process_cpu_seconds_counts_a_burst_shorter_than_a_clock_tick():
    before = process_cpu_seconds(os.getpid())
    end = time.thread_time() + 0.003  # 3 ms of work: under one 10 ms tick
    while time.thread_time() < end:
        pass
    spent = process_cpu_seconds(os.getpid()) - before
    assert 0.002 < spent < 1.0, spent


def test_synthetic_frame_is_the_same_bgr_frame_every_time():
    frame = synthetic_frame(96, 64)
    assert frame.shape == (64, 96, 3) and frame.dtype == np.uint8
    assert np.array_equal(frame, synthetic_frame(96, 64))
    assert frame.std() > 0  # content, not a flat fill
