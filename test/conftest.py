"""What the test modules share, as fixtures, and the `integration` marker they imply.

The helpers themselves are in ros_support.py (processes with the local ROS environment,
bounded waits, the test model, the colcon build); test modules get them from the fixtures
here and never import ros_support. A test that requests a fixture which starts a process
(PROCESS_FIXTURES, directly or through another fixture) is marked `integration` when it is
collected, so `pytest -m "not integration"` runs only the fast unit tests. Tests that start
processes on their own (subprocess.run of a command line) carry the marker explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from re import Pattern

import pytest
import ros_support as support

PROCESS_FIXTURES = frozenset({"node", "ros_process", "colcon_install"})
"""Fixtures that start a process: every test requesting one is an integration test."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `integration` every test that uses a process-starting fixture."""
    for item in items:
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


# ------------------------------------------------------------------ files of the checkout


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root (package.xml, setup.cfg, config/, resource/, docs/)."""
    return support.ROOT


@pytest.fixture(scope="session")
def models_dir(repo_root: Path) -> Path:
    """resource/models: the packaged demo models."""
    return repo_root / "resource" / "models"


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model the node tests run: the packaged demo model's JSON, or where it is missing a
    small Sst trained once per session (`ros_support.model_for_tests`)."""
    return support.model_for_tests(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def target_clip() -> tuple[int, str]:
    """(seed, category) of the synthetic clip whose targets the demo model finds."""
    return support.TARGET_CLIP


@pytest.fixture(scope="session")
def on_target() -> Callable[..., bool]:
    """`on_target(region, truth)`: whether a region's centroid lies on the salient area."""
    return support.on_target


# ------------------------------------------------------------------ ROS in this process


@pytest.fixture(scope="module")
def domain() -> int:
    """The ROS_DOMAIN_ID a module's shared node and its clients use."""
    return support.new_domain()


@pytest.fixture
def fresh_domain() -> int:
    """A ROS_DOMAIN_ID of this test's own (its own node, replay or launch)."""
    return support.new_domain()


@pytest.fixture(scope="session")
def local_ros_environment() -> Callable[..., AbstractContextManager[None]]:
    """`with local_ros_environment(domain):` this process on the tests' local ROS setup."""
    return support.local_ros_environment


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., bool]:
    """`wait_until(predicate, timeout_s, step_s=0.02)`: poll until true or timed out."""
    return support.wait_until


@pytest.fixture(scope="session")
def fastdds_segments() -> Callable[[int | str], set[str]]:
    """`fastdds_segments(pid)`: the Fast DDS shared-memory segments a process has mapped."""
    return support.fastdds_segments


@pytest.fixture(scope="session")
def fastdds_segment_name() -> Pattern[str]:
    """The name of a participant's shared-memory segment (not its port files)."""
    return support.SEGMENT


# ------------------------------------------------------------------ processes


@pytest.fixture(scope="session")
def node_args() -> Callable[..., list[str]]:
    """`node_args(model, *extra, namespace="/cam")`: the saliency node's command line."""
    return support.node_args


@pytest.fixture
def ros_process() -> Iterator[Callable[..., support.RosProcess]]:
    """Start a `RosProcess` (same arguments); any still running is stopped after the test."""
    started: list[support.RosProcess] = []

    def start(*args, **kwargs) -> support.RosProcess:
        started.append(support.RosProcess(*args, **kwargs))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def node_extra_args() -> tuple[str, ...]:
    """Arguments the shared `node` gets after the packaged params file; a module overrides
    this fixture to start its node with other parameters."""
    return ()


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory, domain: int, node_extra_args: tuple[str, ...]
) -> Iterator[support.RosProcess]:
    """A saliency node process (test model, packaged params file, `node_extra_args`) in the
    module's `domain`, active; one for all the tests of a module, stopped after the last."""
    with support.running_node(tmp_path_factory, domain, *node_extra_args) as process:
        yield process


@pytest.fixture(scope="session")
def colcon_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The install/skd_ros folder of this checkout built with colcon (once per session)."""
    return support.colcon_build(tmp_path_factory.mktemp("ws"))
