"""Several saliency nodes on one machine: one node process per camera, as docs/node.md deploys them.

For each node count N it starts N nodes (`skd_ros.tools.measure.start_node`, one inference
thread each by default) in the namespaces /cam0 ... /cam<N-1>, each reading
/cam<K>/image_raw, waits for all of them, then publishes a synthetic bgr8 frame (1280x720
by default) to every camera at `rate_hz` for `seconds` from this process (every frame its own
stamp, the wall clock at publish) and collects the maps. Per N:

* sent, received, delivered_pct: frames published over all cameras, maps received for them;
  frames lost in transport or dropped by a busy node both count as missing;
* latency_p50_ms / latency_p99_ms: publish -> map received here, over all cameras;
* node_cpu_ms_per_frame: CPU time of all node processes over the window
  (`skd_ros.cpu_time.process_cpu_seconds`) divided by the maps delivered;
* node_rss_mb / node_peak_rss_mb: the largest VmRSS and VmHWM of the node processes at the
  end of the window (/proc/<pid>/status), MiB.

Everything runs in the machine-local, delivery-safe environment of
`skd_ros.ros.environment` (LOCALHOST discovery, a ROS_DOMAIN_ID per node count, the
shared-memory Fast DDS profile). Fast DDS reads that profile once per process, when the first
participant is created, so call `several_nodes` before anything else in the process uses ROS.

    python -m skd_ros.bench.nodes [COUNT ...] [--rate 30] [--seconds 5] [--size 1280 720]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from skd_ros.cli_args import add_size_option, positive_float, positive_int
from skd_ros.cpu_time import process_cpu_seconds
from skd_ros.logs import setup_logging
from skd_ros.markdown import table
from skd_ros.ros.environment import domain_id, local_ros_env, reuse_large_buffers
from skd_ros.tools.frames import synthetic_frame
from skd_ros.tools.measure import start_node

COLUMNS = (
    "nodes",
    "rate_hz",
    "sent",
    "received",
    "delivered_pct",
    "latency_p50_ms",
    "latency_p99_ms",
    "node_cpu_ms_per_frame",
    "node_rss_mb",
    "node_peak_rss_mb",
)


class CameraProbe:
    """One rclpy context for all cameras: a frame publisher and a map subscriber per namespace.

    (One `SaliencyProbe` per camera would cost a context, a participant and an executor
    thread each, in the process that also has to publish every frame.)
    """

    def __init__(self, namespaces: list[str], domain: int) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        from skd_ros.tools.probe import stamp_ns

        reuse_large_buffers()
        self._rclpy = rclpy
        self.namespaces = list(namespaces)
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context, domain_id=domain)
        self.node = rclpy.create_node("saliency_bench_probe", context=self.context)
        frames = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        maps = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self._lock = threading.Lock()
        self.received: list[dict[int, int]] = [{} for _ in self.namespaces]  # stamp -> ns
        self.publishers = []
        for index, namespace in enumerate(self.namespaces):
            self.publishers.append(
                self.node.create_publisher(Image, f"{namespace}/image_raw", frames)
            )

            def on_map(msg, arrivals=self.received[index]) -> None:
                now = time.time_ns()
                with self._lock:
                    arrivals.setdefault(stamp_ns(msg.header), now)

            self.node.create_subscription(Image, f"{namespace}/saliency", on_map, maps)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self._spinner.start()

    def missing(self) -> list[str]:
        """The namespaces whose node does not yet read our frames and publish maps to us."""
        return [
            namespace
            for namespace, publisher in zip(self.namespaces, self.publishers, strict=True)
            if publisher.get_subscription_count() == 0
            or self.node.count_publishers(f"{namespace}/saliency") == 0
        ]

    def wait_for_nodes(self, timeout_s: float, alive=lambda: True) -> list[str]:
        """Until every node is matched (or `alive()` turns False); returns those missing."""
        deadline = time.monotonic() + timeout_s
        while (missing := self.missing()) and time.monotonic() < deadline and alive():
            time.sleep(0.05)
        if not missing:
            time.sleep(0.2)  # let both sides finish matching
        return missing

    def clear(self) -> None:
        with self._lock:
            for arrivals in self.received:
                arrivals.clear()

    def count(self) -> int:
        with self._lock:
            return sum(len(arrivals) for arrivals in self.received)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self._spinner.join(timeout=2.0)
        self.node.destroy_node()
        self._rclpy.try_shutdown(context=self.context)


def send_all(probe: CameraProbe, messages, rate_hz: float, seconds: float) -> list[list[int]]:
    """Publish one frame to every camera per period; returns each camera's stamps (ns).

    Every publish gets its own stamp (the wall clock just before it, strictly increasing).
    """
    from skd_ros.tools.probe import set_stamp

    period = 1.0 / rate_hz
    stamps: list[list[int]] = [[] for _ in messages]
    last = 0
    start = time.perf_counter()
    for tick in range(max(1, int(rate_hz * seconds))):
        due = start + tick * period
        while (delay := due - time.perf_counter()) > 0:
            time.sleep(min(delay, 0.002) if delay > 0.0005 else 0)
        for camera, (publisher, message) in enumerate(zip(probe.publishers, messages, strict=True)):
            last = max(time.time_ns(), last + 1)
            set_stamp(message, last)
            publisher.publish(message)
            stamps[camera].append(last)
    return stamps


def _wait_for_stragglers(probe: CameraProbe, expected: int, quiet_s=0.3, limit_s=2.0) -> None:
    """Until every map is in, or none arrived for `quiet_s`, at most `limit_s`."""
    deadline = time.monotonic() + limit_s
    count, changed = probe.count(), time.monotonic()
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.02)
        if (now := probe.count()) != count:
            count, changed = now, time.monotonic()
        elif time.monotonic() - changed > quiet_s:
            break


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB, from /proc/<pid>/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0]) / 1024  # kB
    return values["VmRSS"], values["VmHWM"]


def stop_processes(processes: list[subprocess.Popen]) -> None:
    """SIGINT to all (clean shutdown), then SIGTERM, then SIGKILL to whoever is left."""
    for sig, grace in ((signal.SIGINT, 8.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        running = [p for p in processes if p.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
        deadline = time.monotonic() + grace
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, deadline - time.monotonic()))


def _log_tail(log, lines: int = 15) -> str:
    log.flush()
    log.seek(0)
    return "\n".join(log.read().splitlines()[-lines:])


def measure_nodes(
    count: int,
    messages: list,
    rate_hz: float,
    seconds: float,
    threads: int = 1,
    model: str | None = None,
    salt: int = 0,
) -> dict:
    """One row of `several_nodes`: `count` nodes, their frames and maps, then all stopped."""
    domain = domain_id(salt=53 + 11 * count + salt)
    env = local_ros_env(domain)
    saved = dict(os.environ)
    namespaces = [f"/cam{k}" for k in range(count)]
    nodes: list[subprocess.Popen] = []
    with contextlib.ExitStack() as stack:
        os.environ.clear()
        os.environ.update(env)
        stack.callback(lambda: (os.environ.clear(), os.environ.update(saved)))
        logs = [stack.enter_context(tempfile.TemporaryFile("w+")) for _ in namespaces]
        stack.callback(stop_processes, nodes)
        for namespace, log in zip(namespaces, logs, strict=True):
            nodes.append(start_node(env, log, namespace, threads=threads, model=model))
        probe = CameraProbe(namespaces, domain)
        stack.callback(probe.close)
        timeout = 60.0 + 15.0 * count
        missing = probe.wait_for_nodes(timeout, lambda: all(n.poll() is None for n in nodes))
        if missing or any(n.poll() is not None for n in nodes):
            details = "\n".join(
                f"--- {ns} (exit code {node.poll()}):\n{_log_tail(log)}"
                for ns, node, log in zip(namespaces, nodes, logs, strict=True)
                if ns in missing or node.poll() is not None
            )
            waited = f"waited at most {timeout:g} s"
            raise RuntimeError(f"{count} node(s): not all came up ({waited})\n{details}")
        messages = messages[:count]
        send_all(probe, messages, rate_hz, min(1.0, seconds))  # warm-up
        time.sleep(0.5)
        probe.clear()
        cpu_before = sum(process_cpu_seconds(n.pid) for n in nodes)
        stamps = send_all(probe, messages, rate_hz, seconds)
        sent = sum(len(s) for s in stamps)
        _wait_for_stragglers(probe, sent)
        cpu = sum(process_cpu_seconds(n.pid) for n in nodes) - cpu_before
        rss, peak = zip(*(memory_mb(n.pid) for n in nodes), strict=True)
        with probe._lock:
            latencies = [
                (arrivals[stamp] - stamp) / 1e6
                for camera, arrivals in enumerate(probe.received)
                for stamp in stamps[camera]
                if stamp in arrivals
            ]
    received = len(latencies)
    p50, p99 = np.percentile(latencies, [50, 99]) if latencies else (float("nan"),) * 2
    return {
        "nodes": count,
        "rate_hz": rate_hz,
        "sent": sent,
        "received": received,
        "delivered_pct": 100.0 * received / sent if sent else float("nan"),
        "latency_p50_ms": float(p50),
        "latency_p99_ms": float(p99),
        "node_cpu_ms_per_frame": cpu * 1e3 / received if received else float("nan"),
        "node_rss_mb": max(rss),
        "node_peak_rss_mb": max(peak),
    }


def several_nodes(
    counts=(1, 2, 4),
    size=(1280, 720),
    rate_hz: float = 30.0,
    seconds: float = 5.0,
    threads: int = 1,
    model: str | None = None,
) -> list[dict]:
    """One row (dict with the keys of `COLUMNS`) per node count; see the module docstring."""
    from skd_ros.tools.probe import bgr8_message

    image = synthetic_frame(*size)
    messages = [bgr8_message(image, 0, frame_id=f"cam{k}") for k in range(max(counts))]
    return [measure_nodes(n, messages, rate_hz, seconds, threads, model) for n in counts]


def format_table(rows: list[dict]) -> str:
    """The rows of `several_nodes` as a Markdown table."""
    header = ["nodes", "Hz per camera", "frames sent", "maps received", "latency p50 ms"]
    header += ["latency p99 ms", "node CPU ms/frame", "node RSS MiB (max)"]
    cells = [
        [
            r["nodes"],
            f"{r['rate_hz']:g}",
            r["sent"],
            f"{r['received']} ({r['delivered_pct']:.1f} %)",
            f"{r['latency_p50_ms']:.2f}",
            f"{r['latency_p99_ms']:.2f}",
            f"{r['node_cpu_ms_per_frame']:.2f}",
            f"{r['node_rss_mb']:.0f}",
            f"{r['node_peak_rss_mb']:.0f}",
        ]
        for r in rows
    ]
    return table([*header, "node peak RSS MiB (max)"], cells, "r" * 9)


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    parser = argparse.ArgumentParser(prog="nodes", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "counts", type=positive_int, nargs="*", default=[1, 2, 4], help="node counts"
    )
    parser.add_argument(
        "--rate", type=positive_float, default=30.0, help="Hz per camera (default 30)"
    )
    parser.add_argument("--seconds", type=positive_float, default=5.0, help="per count (default 5)")
    add_size_option(parser, (1280, 720))
    parser.add_argument(
        "--threads", type=positive_int, default=1, help="inference threads per node"
    )
    parser.add_argument("--model", help="exported model .json (default: packaged)")
    args = parser.parse_args(argv)
    rows = several_nodes(
        args.counts, tuple(args.size), args.rate, args.seconds, args.threads, args.model
    )
    print(
        f"{args.size[0]}x{args.size[1]} bgr8 at {args.rate:g} Hz to every camera, "
        f"{args.seconds:g} s, one node process per camera ({args.threads} inference thread(s))"
    )
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
