"""A machine-local, delivery-safe ROS 2 environment for the processes skd_ros starts.

Tests, the demo, `replay` and `measure` start ROS processes. Each gets:

* `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`: discovery stays on this machine;
* a `ROS_DOMAIN_ID` of its own, so parallel runs do not see each other;
* `FASTDDS_DEFAULT_PROFILES_FILE` (Fast DDS 3: Kilted) or `FASTRTPS_DEFAULT_PROFILES_FILE`
  (Fast DDS 2: Humble, Jazzy, which ignores the first) pointing at `config/fastdds_shm.xml`:
  shared-memory transport with 32 MB segments plus loopback UDP for discovery. Without it,
  most 720p frames sent best-effort between processes are lost (docs/node.md, "Transport").

`reuse_large_buffers()` is for the ROS processes themselves: see its docstring.

Plain Python; no rclpy import.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import importlib.util
import os
import sys
from pathlib import Path

from skd_ros.package_files import find_package_file, package_file_candidates

PROFILE_NAME = "fastdds_shm.xml"
SHARED_MEMORY = Path("/dev/shm")
# what one process takes there under the profile: its 32 MB segment_size plus Fast DDS's
# bookkeeping (33.5 MB), and a small port segment (0.5 MB)
SEGMENT_BYTES_PER_PROCESS = 34 << 20
# Per Fast DDS major version: the variable naming its profile file (Fast DDS 2 ignores
# FASTDDS_..., Kilted's rmw_fastrtps still reads FASTRTPS_... but warns that it is deprecated),
PROFILE_VARIABLES = {3: "FASTDDS_DEFAULT_PROFILES_FILE", 2: "FASTRTPS_DEFAULT_PROFILES_FILE"}
# its shared-memory segments, /dev/shm/<prefix><16 hex digits> (and port files <prefix>port*),
SEGMENT_PREFIXES = {3: "fastdds_", 2: "fastrtps_"}
# and its library
LIBRARIES = {3: "libfastdds.so", 2: "libfastrtps.so"}


def fastdds_profile() -> Path:
    """The packaged Fast DDS profile: source tree's config/, else share/skd_ros/config."""
    path = find_package_file("config", "config", PROFILE_NAME)
    if path is None:
        looked = [str(c) for c in package_file_candidates("config", "config", PROFILE_NAME)]
        raise FileNotFoundError(f"{PROFILE_NAME} not found (looked in {looked})")
    return path


def fastdds_generation(maps: Path = Path("/proc/self/maps")) -> int | None:
    """This process's Fast DDS major version (3: Kilted; 2: Humble, Jazzy) from the library it
    has mapped; None before ROS has started in it (rclpy.init), or where /proc is missing."""
    try:
        mapped = maps.read_text()
    except OSError:
        return None
    return next((major for major, name in LIBRARIES.items() if f"/{name}" in mapped), None)


def installed_fastdds_generation(env: dict[str, str] | None = None) -> int | None:
    """The Fast DDS major version that rclpy here would load, found without loading it: its
    library in rclpy's install prefix (the PyPI wheels' venv, /opt/ros/<distro>), else in a
    prefix of AMENT_PREFIX_PATH; None where none holds one."""
    env = os.environ if env is None else env
    folders = [Path(p) / "lib" for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    try:
        spec = importlib.util.find_spec("rclpy")  # finds the package, does not import it
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin is not None:
        parents = Path(spec.origin).parents  # <prefix>/lib/pythonX.Y/site-packages/rclpy/...
        folders[:0] = [parents[3]] if len(parents) > 3 else []
    for folder in folders:
        for major, name in LIBRARIES.items():
            if next(folder.glob(f"{name}*"), None) is not None:
                return major
    return None


def shm_profile_in_use(env: dict[str, str] | None = None, generation: int | None = None) -> bool:
    """Whether Fast DDS `generation` (None: any) runs on the packaged shared-memory profile."""
    env = os.environ if env is None else env
    names = [PROFILE_VARIABLES[2]] if generation == 2 else PROFILE_VARIABLES.values()
    return any(Path(env.get(name, "")).name == PROFILE_NAME for name in names)


def profile_variable_warning(
    env: dict[str, str] | None = None, generation: int | None = None
) -> str | None:
    """Why the profile file that was set is not in use, or None: Fast DDS 2 (Humble, Jazzy)
    reads FASTRTPS_DEFAULT_PROFILES_FILE only (`generation` None: this process's)."""
    env = os.environ if env is None else env
    generation = fastdds_generation() if generation is None else generation
    kilted, older = PROFILE_VARIABLES[3], PROFILE_VARIABLES[2]
    if generation != 2 or not env.get(kilted) or env.get(older):
        return None
    return (
        f"{kilted} is set, but this ROS 2's Fast DDS 2 reads only {older}: the profile "
        f"{env[kilted]} is not in use. On Humble and Jazzy export {older} instead, for every "
        "process that exchanges images (docs/node.md, 'Transport')"
    )


def shared_memory_warning(processes: int = 4, path: Path = SHARED_MEMORY) -> str | None:
    """Why Fast DDS's shared memory is short, or None: room for `processes` more processes.

    /dev/shm is RAM. A process killed before it could delete its segments leaves them there
    until reboot; once it is full, Fast DDS cannot create its own segment (frames are lost)
    and the machine slows to a crawl for lack of memory.
    """
    try:
        stats = os.statvfs(path)
    except OSError:
        return None  # no /dev/shm (not Linux): nothing to check
    free = stats.f_bavail * stats.f_frsize
    if free >= processes * SEGMENT_BYTES_PER_PROCESS:
        return None
    return (
        f"{path} has {free >> 20} MB free of {(stats.f_blocks * stats.f_frsize) >> 20} MB; "
        f"each ROS process under skd_ros's Fast DDS profile takes "
        f"{SEGMENT_BYTES_PER_PROCESS >> 20} MB there. Killed processes leave their segments "
        "behind until reboot: `fastdds shm clean` deletes those no process uses "
        "(docs/node.md, 'Transport')"
    )


def domain_id(salt: int = 0) -> int:
    """A ROS_DOMAIN_ID in 1..100 derived from this process id (and `salt`)."""
    return 1 + (os.getpid() * 7 + salt) % 100


def local_ros_env(
    domain: int | None = None, base: dict[str, str] | None = None, shared_memory: bool = True
) -> dict[str, str]:
    """A copy of `base` (default os.environ) set up for local, delivery-safe ROS traffic.

    `shared_memory=False` leaves Fast DDS's default transports (to show what they lose).
    """
    env = dict(os.environ if base is None else base)
    env.pop("ROS_LOCALHOST_ONLY", None)  # deprecated; conflicts with the discovery range
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["ROS_DOMAIN_ID"] = str(domain_id() if domain is None else domain)
    for name in PROFILE_VARIABLES.values():
        env.pop(name, None)
    if shared_memory:
        generation = installed_fastdds_generation(env)
        for major, name in PROFILE_VARIABLES.items():  # unknown: both, one of them is read
            if generation in (major, None):
                env[name] = str(fastdds_profile())
    env.pop("FASTDDS_BUILTIN_TRANSPORTS", None)  # the profile decides the transports
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def apply_local_ros_env(domain: int | None = None) -> dict[str, str]:
    """Set the variables of `local_ros_env` in this process (call before rclpy.init)."""
    env = local_ros_env(domain)
    for key in set(os.environ) - set(env):
        del os.environ[key]
    os.environ.update(env)
    return env


# glibc mallopt parameters
M_TRIM_THRESHOLD = -1
M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3


def reuse_large_buffers(mmap_threshold: int = 32 << 20, trim_threshold: int = 512 << 20) -> bool:
    """Keep freed multi-megabyte buffers in the heap instead of returning them to the kernel.

    Each received camera frame passes through a few buffers of its size (middleware sample,
    serialized copy, Python message). glibc serves allocations above 128 kB with a fresh
    `mmap` and unmaps them on free, so every frame paid for page faults and page zeroing,
    several times what receiving costs with this setting (the same as
    MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ in the environment; docs/tools.md). All
    threads share the main heap (M_ARENA_MAX 1, like MALLOC_ARENA_MAX=1): frames are received
    in a thread of their own (`camera_input`), and a thread's own glibc heap is capped at
    64 MB, so 25 MB 4K frames there were mapped and unmapped again on every frame.
    Returns False where it does not apply (not glibc).
    """
    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(
        [  # a list, not a generator: every setting is tried even if one fails
            mallopt(option, value)
            for option, value in (
                (M_ARENA_MAX, 1),
                (M_MMAP_THRESHOLD, mmap_threshold),
                (M_TRIM_THRESHOLD, trim_threshold),
            )
        ]
    )


def settle_runtime() -> None:
    """Per-frame CPU savings measured here (docs/tools.md, "Numbers"), applied by the node once
    configured (and by anything that times the node's per-frame path).

    OpenCV runs single-threaded: its worker pool spin-waits (sched_yield) between the small
    resizes of each frame and burnt about 1 ms of CPU per frame for nothing. The objects made
    at start-up (model, modules) are frozen out of the garbage collector's generations, so
    the collections that per-frame messages trigger only walk what is new.
    """
    import cv2  # here, not at import: the environment helpers must stay light

    cv2.setNumThreads(1)
    gc.collect()
    gc.freeze()


def release_runtime() -> None:
    """Undo `settle_runtime`'s freeze when the node releases what it configured.

    Frozen objects are never collected, not even at exit, and among them sit cycles that
    hold the middleware's context: its Fast DDS participant was then never deleted, and each
    stopped node left its shared-memory segments (34 MB with the packaged profile) in
    /dev/shm until the next reboot.
    """
    gc.unfreeze()
