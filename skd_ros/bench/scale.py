"""Training at scale: cache labelling time against processes, peak memory against frames.

`python -m skd_ros.bench.scale labelling` runs `train run --stop-after cache` (a fresh
cache each time; teachers spectral-residual and flow, the flow teacher's share dominating)
on one synthetic set: one process with `threads=1` (one labelling thread, OpenCV and torch
single-threaded: the baseline every ratio is against), one process with a thread per core
(its labelling pool) and `--processes` under torchrun with `threads=1` each.
The time is the one the cache prints: from the first video labelled to the joined entry
(the command's wall time, start-up included, is beside it).

`python -m skd_ros.bench.scale memory --scales 1 4 16` writes the demo set's synthetic
videos `scale` times over and measures, for each, labelling (`--stop-after cache`) and
training (both stages, one epoch each, `--stop-after stage2`, data-loading workers
included) as real command lines. Memory is the peak, over the run, of the proportional set
size (PSS, /proc/<pid>/smaps_rollup) summed over the command's process tree, sampled every
0.2 s: `anon` is the memory a run allocates, `file` the pages of memory-mapped files (the
cache) it has resident, which the kernel reclaims under pressure.

Each writes `<out>/<command>.md` and `.json` with the load average at each start, since the
times mean little on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from skd_ros.atomic_write import write_json, write_text
from skd_ros.cli_args import add_size_option, positive_int
from skd_ros.markdown import table

DEMO_VIDEOS = 16  # config/demo_weights.yaml: 16 training videos of 60 frames
DEMO_FRAMES = 60
SAMPLE_S = 0.2
LABELLED = re.compile(r"^cache: .* videos labelled in ([0-9.]+) s", re.MULTILINE)


def train_args(
    data: Path, videos: int, frames: int, size: list[int], cache: Path, output: Path,
    threads: int = 1,
):  # fmt: skip
    """`--set` arguments of a labelling or training run on a synthetic set."""
    settings = [
        f"data.root={data}",
        f"data.synthetic_videos=[{videos}, 1, 1]",
        f"data.synthetic_frames={frames}",
        f"data.synthetic_size=[{size[0]}, {size[1]}]",
        "model.resolution=64",
        "teachers.spatial=spectral-residual",
        "teachers.temporal=flow",
        f"cache_dir={cache}",
        f"output={output}",
        "stage1.epochs=1",
        "stage2.epochs=1",
        "optim.workers=2",
        f"threads={threads}",
    ]
    return ["run", "--no-progress", *(arg for item in settings for arg in ("--set", item))]


def command(args: list[str], processes: int) -> list[str]:
    """`train <args>` as one process or under torchrun."""
    if processes == 1:
        return [sys.executable, "-m", "skd_ros.training.cli", *args]
    return [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
        "--master_addr", "127.0.0.1", "--master_port", str(29400 + os.getpid() % 500),
        "-m", "skd_ros.training.cli", *args,
    ]  # fmt: skip


def run_watched(argv: list[str]) -> dict:
    """Run `argv` to the end; its wall time and peak PSS (anon, file) over its process tree."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # gloo on the CPU: what is measured here
    load = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peaks = {"anon": 0, "file": 0}
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(process.pid, peaks, done), daemon=True)
    watcher.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{output.decode(errors='replace')[-3000:]}")
    mib = {f"peak_{k}_mib": round(v / 1024, 1) for k, v in peaks.items()}
    labelled = LABELLED.findall(output.decode(errors="replace"))
    result = {"seconds": round(seconds, 2), "load_average": round(load, 2), **mib}
    return result | ({"labelling_seconds": float(labelled[-1])} if labelled else {})


def _watch(root: int, peaks: dict, done: threading.Event) -> None:
    while not done.is_set():
        totals = {"anon": 0, "file": 0}
        for pid in _tree(root):
            for key, value in _pss_kib(pid).items():
                totals[key] += value
        for key, value in totals.items():
            peaks[key] = max(peaks[key], value)
        done.wait(SAMPLE_S)


def _tree(root: int) -> list[int]:
    """`root` and every process below it (from the parent ids in /proc/<pid>/stat)."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def _pss_kib(pid: int) -> dict[str, int]:
    values = {"anon": 0, "file": 0}
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:  # ended meanwhile
        return values
    for line in lines:
        key, _, rest = line.partition(":")
        if key in ("Pss_Anon", "Pss_File", "Pss_Shmem"):
            values["anon" if key != "Pss_File" else "file"] += int(rest.split()[0])
    return values


def labelling(out: Path, processes: int, repeats: int, frames: int, size: list[int]) -> list:
    """Rows of the labelling table (see the module docstring)."""
    data = out / "data-labelling"
    cores = os.cpu_count() or 1
    runs = [("1 process, threads=1", 1, 1), (f"1 process, threads={cores}", 1, cores)]
    runs.append((f"torchrun --nproc_per_node {processes}, threads=1 each", processes, 1))
    _prepare(
        train_args(data, DEMO_VIDEOS, frames, size, out / "cache-labelling", out / "run-labelling")
    )
    rows = []
    for label, count, threads in runs:
        times, walls, loads = [], [], []
        for repeat in range(repeats):
            cache = out / "cache-labelling" / f"{count}-{threads}-{repeat}"
            run = out / "run-labelling"
            args = train_args(data, DEMO_VIDEOS, frames, size, cache, run, threads)
            args += ["--stop-after", "cache"]
            subprocess.run(["rm", "-rf", str(cache)], check=True)
            result = run_watched(command(args, count))
            times.append(result["labelling_seconds"])
            walls.append(result["seconds"])
            loads.append(result["load_average"])
            subprocess.run(["rm", "-rf", str(cache)], check=True)
        rows.append(
            {
                "run": label,
                "seconds": statistics.median(times),
                "all_seconds": times,
                "wall_seconds": statistics.median(walls),
                "load_average": loads,
            }
        )
    base = rows[0]["seconds"]
    for row in rows:
        row["against_1_process"] = round(row["seconds"] / base, 2)
    return rows


def memory(out: Path, scales: list[int], frames: int, size: list[int]) -> list:
    """Rows of the memory table (see the module docstring)."""
    rows = []
    for scale in scales:
        videos = DEMO_VIDEOS * scale
        data, cache = out / f"data-x{scale}", out / f"cache-x{scale}"
        subprocess.run(["rm", "-rf", str(cache), str(out / f"run-x{scale}")], check=True)
        args = train_args(data, videos, frames, size, cache, out / f"run-x{scale}")
        _prepare(args)
        label = run_watched(command([*args, "--stop-after", "cache"], 1))
        trained = run_watched(command([*args, "--resume", "--stop-after", "stage2"], 1))
        rows.append(
            {
                "scale": scale,
                "frames": videos * frames,
                "cache_mib": round(_size(cache) / 2**20, 1),
                "labelling": label,
                "training": trained,
            }
        )
    return rows


def _prepare(args: list[str]) -> None:
    """Write the synthetic set first, so its generation is not in the measured runs."""
    subprocess.run(command([*args, "--stop-after", "stage0"], 1), check=True, capture_output=True)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def labelling_table(rows: list) -> str:
    header = ["run", "labelling s (median)", "against 1 process, threads=1", "command wall s"]
    cells = [
        [
            row["run"],
            f"{row['seconds']:.1f}",
            f"{row['against_1_process']:.2f}",
            f"{row['wall_seconds']:.1f}",
            ", ".join(f"{v:.2f}" for v in row["load_average"]),
        ]
        for row in rows
    ]
    return table([*header, "load average at start"], cells, "lrrrl")


def memory_table(rows: list) -> str:
    header = ["demo set x", "frames", "cache MiB", "labelling: anon / file MiB, s"]
    lines = []
    for row in rows:
        cells = [
            f"{row[k]['peak_anon_mib']:.0f} / {row[k]['peak_file_mib']:.0f}, "
            f"{row[k]['seconds']:.0f}"
            for k in ("labelling", "training")
        ]
        lines.append([row["scale"], row["frames"], f"{row['cache_mib']:.0f}", *cells])
    return table([*header, "training: anon / file MiB, s"], lines, "rrrrr")


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m skd_ros.bench.scale labelling|memory`."""
    parser = argparse.ArgumentParser(prog="python -m skd_ros.bench.scale", description=__doc__)
    parser.add_argument("what", choices=["labelling", "memory"])
    parser.add_argument("--out", type=Path, default=Path("outputs/bench-scale"))
    parser.add_argument("--processes", type=positive_int, default=2)
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--scales", type=positive_int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--frames", type=positive_int, default=DEMO_FRAMES)
    add_size_option(parser, (640, 360), "synthetic clip size")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.what == "labelling":
        rows = labelling(out, args.processes, args.repeats, args.frames, args.size)
        table = labelling_table(rows)
    else:
        rows = memory(out, args.scales, args.frames, args.size)
        table = memory_table(rows)
    write_json(out / f"{args.what}.json", rows, indent=2)
    write_text(out / f"{args.what}.md", table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
