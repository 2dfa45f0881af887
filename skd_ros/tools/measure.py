"""Measure the saliency node as deployed: CPU per frame, end-to-end latency, highest rate.

Starts the node in its own process (one inference thread by default) and, in this process,
a publisher of synthetic 1280x720 bgr8 frames and a subscriber of the maps. For each input
rate it sends frames for a few seconds and reports:

* delivered: maps received / frames sent (frames lost in transport or dropped by the node
  because it was busy both count as missing);
* latency: header stamp (wall clock at publish) -> map received here, p50 and p99;
* node CPU per frame: the node process's user + system CPU time over the run (everything:
  middleware receive, deserialization, conversion, R, Sst, peaks, publishing) divided by the
  maps it published; processing CPU (check, R, Sst, peaks, publishing, in the receiving
  and worker threads) is the node's own per-frame figure from its diagnostics;
* receive-only CPU per frame: after the node is stopped, an empty rclpy subscriber on the same
  topic (`skd_ros.tools.null_subscriber`) gets the same frames at the same rates; its CPU time
  divided by the frames sent is what any Python node pays just to receive them;
* same work in-process: the node's per-frame path run in this process without transport or
  threads (`skd_ros.tools.paced_reference`), one frame per period at the same rate, right
  after the node's run at that rate; below the table, the same work back to back. Their
  difference is what idle gaps cost on this host at that moment (cold caches after every
  wait), which the node pays too;
* the highest rate at which every frame got its map;
* below the table, the node's CPU per second while active but without frames (measured
  for a few seconds before the first rate).

    python -m skd_ros.tools.measure [--rates 30 60 100 150 200] [--seconds 4] [--threads 1]
                                    [--transport shm|default]

`--transport default` leaves Fast DDS's built-in transports in place, to show the loss
(docs/node.md, "Transport"). Everything stays on this machine (LOCALHOST discovery, own domain).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from skd_ros.cli_args import add_size_option, positive_float, positive_int
from skd_ros.cpu_time import process_cpu_seconds
from skd_ros.logs import setup_logging
from skd_ros.markdown import table
from skd_ros.ros.environment import domain_id, local_ros_env
from skd_ros.tools.frames import synthetic_frame

IDLE_SECONDS = 3.0


@dataclass
class RateResult:
    rate_hz: float
    sent: int
    delivered: int
    latency_p50_ms: float
    latency_p99_ms: float
    node_cpu_ms_per_frame: float
    processing_cpu_p50_ms: float
    node_dropped: int
    achieved_hz: float
    receive_only_cpu_ms_per_frame: float = float("nan")
    paced_reference_ms_per_frame: float = float("nan")


def start_node(
    env: dict[str, str],
    log,
    namespace: str = "/bench",
    threads: int = 1,
    model: str | None = None,
) -> subprocess.Popen:
    """The saliency node in its own process, in `namespace`, reading `<namespace>/image_raw`."""
    command = [sys.executable, "-m", "skd_ros.ros.node", "--ros-args"]
    command += ["-r", f"__ns:={namespace}", "-r", f"image:={namespace}/image_raw"]
    command += ["-p", f"threads:={threads}", "-p", "qos_hint_after_s:=600.0"]
    if model:
        command += ["-p", f"model:={model}"]
    return subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _start_node(args: argparse.Namespace, env: dict[str, str], log) -> subprocess.Popen:
    return start_node(env, log, threads=args.threads, model=args.model)


def _send(probe, message, rate_hz: float, seconds: float) -> tuple[list[int], float]:
    """Publish `message` at `rate_hz` for `seconds`, restamped each time; returns stamps."""
    from skd_ros.tools.probe import set_stamp

    count = max(1, int(rate_hz * seconds))
    period = 1.0 / rate_hz
    stamps = []
    start = time.perf_counter()
    for index in range(count):
        due = start + index * period
        while (delay := due - time.perf_counter()) > 0:
            time.sleep(min(delay, 0.002) if delay > 0.0005 else 0)
        stamp = time.time_ns()
        set_stamp(message, stamp)
        probe.image_publisher.publish(message)
        stamps.append(stamp)
    return stamps, count / (time.perf_counter() - start)


def measure_rate(probe, pid: int, message, rate_hz: float, seconds: float) -> RateResult:
    probe.outputs.clear()
    dropped_before = int(probe.diagnostic_values(timeout_s=3.0).get("frames dropped", 0))
    cpu_before = process_cpu_seconds(pid)
    stamps, achieved = _send(probe, message, rate_hz, seconds)
    time.sleep(0.5)  # stragglers
    cpu = process_cpu_seconds(pid) - cpu_before
    latencies = [
        (probe.outputs[s].received_ns - s) / 1e6
        for s in stamps
        if s in probe.outputs and probe.outputs[s].saliency is not None
    ]
    values = probe.diagnostic_values(timeout_s=3.0)
    delivered = len(latencies)
    p50, p99 = np.percentile(latencies, [50, 99]) if latencies else (float("nan"),) * 2
    return RateResult(
        rate_hz=rate_hz,
        sent=len(stamps),
        delivered=delivered,
        latency_p50_ms=float(p50),
        latency_p99_ms=float(p99),
        node_cpu_ms_per_frame=cpu * 1e3 / delivered if delivered else float("nan"),
        processing_cpu_p50_ms=float(values.get("cpu per frame p50 (ms)", "nan")),
        node_dropped=int(values.get("frames dropped", 0)) - dropped_before,
        achieved_hz=achieved,
    )


def measure_receive_only(probe, pid: int, message, rate_hz: float, seconds: float) -> float:
    """CPU ms per frame of the empty subscriber `pid` (run after the node, alone)."""
    before = process_cpu_seconds(pid)
    stamps, _ = _send(probe, message, rate_hz, seconds)
    time.sleep(0.5)
    return (process_cpu_seconds(pid) - before) * 1e3 / len(stamps)


def format_table(results: list[RateResult], back_to_back_ms: float = float("nan")) -> str:
    header = ["input Hz (sent at)", "frames sent", "maps received", "latency p50 ms"]
    header += ["latency p99 ms", "node CPU ms/frame", "processing CPU p50 ms"]
    header += ["receive-only CPU ms/frame", "same work in-process ms/frame", "dropped by node"]
    cells = [
        [
            f"{r.rate_hz:g} ({r.achieved_hz:.1f})",
            r.sent,
            f"{r.delivered} ({100 * r.delivered / r.sent:.1f} %)",
            *(
                f"{value:.2f}"
                for value in (
                    r.latency_p50_ms,
                    r.latency_p99_ms,
                    r.node_cpu_ms_per_frame,
                    r.processing_cpu_p50_ms,
                    r.receive_only_cpu_ms_per_frame,
                    r.paced_reference_ms_per_frame,
                )
            ),
            r.node_dropped,
        ]
        for r in results
    ]
    rows = [table(header, cells, "r" * len(header))]
    sustained = [r.rate_hz for r in results if r.delivered == r.sent]
    best = f"{max(sustained):g} Hz" if sustained else "none of the tested rates"
    rows.append(f"\nhighest input rate with every frame answered: {best}")
    rows.append(f"same work in-process, back to back (hot caches): {back_to_back_ms:.2f} ms/frame")
    return "\n".join(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="measure_node",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--rates",
        type=positive_float,
        nargs="+",
        default=[30, 60, 100, 150, 200],
        help="input rates, Hz",
    )
    parser.add_argument("--seconds", type=positive_float, default=4.0, help="per rate")
    add_size_option(parser, (1280, 720))
    parser.add_argument("--threads", type=positive_int, default=1, help="node inference threads")
    parser.add_argument("--model", help="exported model .json (None: packaged)")
    parser.add_argument(
        "--transport",
        choices=("shm", "default"),
        default="shm",
        help="shm: the shared-memory profile; default: Fast DDS's built-in transports (UDP loss)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m skd_ros.tools.measure`."""
    setup_logging()
    args = parse_args(argv)
    env = local_ros_env(domain_id(salt=17), shared_memory=args.transport == "shm")
    os.environ.clear()
    os.environ.update(env)
    from skd_ros.tools.paced_reference import PacedReference
    from skd_ros.tools.probe import SaliencyProbe, bgr8_message

    message = bgr8_message(synthetic_frame(*args.size), 0)
    with tempfile.TemporaryFile("w+") as log:
        node = _start_node(args, env, log)
        try:
            with SaliencyProbe(namespace="/bench", image_topic="/bench/image_raw") as probe:
                if not probe.wait_for_node(30.0):
                    log.seek(0)
                    print("the node did not come up:\n" + log.read(), file=sys.stderr)
                    return 1
                _send(probe, message, 30.0, 1.0)  # warm-up
                time.sleep(0.5)
                print(
                    f"{args.size[0]}x{args.size[1]} bgr8, node with {args.threads} inference "
                    f"thread(s), transport: {args.transport}, {args.seconds:g} s per rate"
                )
                idle_ms = _idle_cpu_ms_per_second(node.pid, IDLE_SECONDS)
                reference = PacedReference(message, args.model, args.threads)
                frames = max(30, min(150, int(30 * args.seconds)))
                results = []
                for rate in args.rates:
                    results.append(measure_rate(probe, node.pid, message, rate, args.seconds))
                    # the same minute: the host's idle-gap penalty drifts with its load
                    paced = reference.cpu_ms_per_frame(frames, rate)
                    results[-1].paced_reference_ms_per_frame = paced
                    print(f"  {rate:g} Hz: {results[-1].delivered}/{results[-1].sent} maps")
                hot = reference.cpu_ms_per_frame(frames)
                _stop(node)
                _receive_only(probe, message, env, results, args.seconds)
                print()
                print(format_table(results, hot))
                print(f"node CPU while active without frames: {idle_ms:.2f} ms per second")
        finally:
            _stop(node)
    return 0


def _receive_only(probe, message, env, results: list[RateResult], seconds: float) -> None:
    """Fill in each result's receive-only CPU, from an empty subscriber alone on the topic."""
    null = subprocess.Popen(
        [sys.executable, "-m", "skd_ros.tools.null_subscriber", "/bench/image_raw"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20.0
        while probe.image_publisher.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        _send(probe, message, 30.0, 1.0)  # warm-up
        for result in results:
            cpu = measure_receive_only(probe, null.pid, message, result.rate_hz, seconds)
            result.receive_only_cpu_ms_per_frame = cpu
    finally:
        _stop(null)


def _idle_cpu_ms_per_second(pid: int, seconds: float) -> float:
    """CPU the active node spends per second while no frame comes (timers, middleware)."""
    time.sleep(1.0)  # let the warm-up frames finish
    before = process_cpu_seconds(pid)
    time.sleep(seconds)
    return (process_cpu_seconds(pid) - before) * 1e3 / seconds


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


if __name__ == "__main__":
    raise SystemExit(main())
