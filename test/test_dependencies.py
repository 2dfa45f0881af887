"""Every import the code makes has its dependency declared, for rosdep and for pip.

A ROS user installs with `rosdep install` (package.xml) and a pip user with the setup.py
extras; an import missing from either crashes only after installation, on their machine
(scipy was a test dependency while `train evaluate` imported it). This test reads the imports
from the source, so a new import without a declaration fails here.
"""

import ast
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# top-level module -> (rosdep key, pip requirement); a None key has no rosdep key yet and is
# named in package.xml's comment and the README's install lines instead
DECLARATIONS = {
    "builtin_interfaces": ("builtin_interfaces", None),
    "cv2": ("python3-opencv", "opencv-contrib-python-headless"),
    "diagnostic_msgs": ("diagnostic_msgs", None),
    "geometry_msgs": ("geometry_msgs", None),
    "lifecycle_msgs": ("lifecycle_msgs", None),
    "matplotlib": ("python3-matplotlib", "matplotlib"),
    "numpy": ("python3-numpy", "numpy"),
    "onnx": (None, "onnx"),
    "onnxruntime": ("python3-onnxruntime-pip", "onnxruntime"),
    "rcl_interfaces": ("rcl_interfaces", None),
    "rclpy": ("rclpy", None),
    "rosbags": ("python3-rosbags-pip", "rosbags"),
    "rosgraph_msgs": ("rosgraph_msgs", None),
    "safetensors": (None, "safetensors"),
    "scipy": ("python3-scipy", "scipy"),
    "sensor_msgs": ("sensor_msgs", None),
    "std_msgs": ("std_msgs", None),
    "torch": ("python3-torch", "torch==2.13.0"),
    "tqdm": ("python3-tqdm", "tqdm"),
    "visualization_msgs": ("visualization_msgs", None),
    "vision_msgs": ("vision_msgs", None),  # optional at run time: saliency/detections
    "yaml": ("python3-yaml", "pyyaml"),
}
NO_ROSDEP_KEY = {"safetensors", "rosbags-image", "onnx"}  # pip lines in the README


def third_party_imports(root: Path) -> set[str]:
    """Top-level names of every absolute import under skd_ros/ that is not the stdlib."""
    names = set()
    for path in (root / "skd_ros").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"skd_ros"}


def setup_requirements(root: Path) -> set[str]:
    """install_requires plus every extra but `test`, read from setup.py without running it."""
    tree = ast.parse((root / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.keywords)
    keywords = {
        k.arg: ast.literal_eval(k.value)
        for k in call.keywords
        if k.arg in {"install_requires", "extras_require"}
    }
    extras = keywords["extras_require"]
    used = [req for extra, group in extras.items() if extra != "test" for req in group]
    return set(keywords["install_requires"]) | set(used)


def test_every_import_is_known_to_this_test(repo_root):
    unknown = third_party_imports(repo_root) - set(DECLARATIONS)
    assert not unknown, f"add {sorted(unknown)} to DECLARATIONS, package.xml and setup.py"


def test_package_xml_declares_every_imported_rosdep_key(repo_root):
    root = ET.parse(repo_root / "package.xml").getroot()
    declared = {e.text for e in root.findall("exec_depend")} | {
        e.text for e in root.findall("depend")
    }
    keys = {DECLARATIONS[name][0] for name in third_party_imports(repo_root) & set(DECLARATIONS)}
    assert sorted(keys - declared - {None}) == []
    comment = (repo_root / "package.xml").read_text()
    assert all(name in comment for name in NO_ROSDEP_KEY)


def test_setup_py_declares_every_imported_pip_requirement(repo_root):
    requirements = setup_requirements(repo_root)
    wanted = {DECLARATIONS[name][1] for name in third_party_imports(repo_root) & set(DECLARATIONS)}
    assert sorted(wanted - requirements - {None}) == []
    assert "rosbags-image" in requirements  # imported as rosbags.image


@pytest.mark.parametrize(
    ("document", "heading"),
    [
        ("README.md", "## Install in a ROS 2 workspace"),
        ("docs/install.md", "## ROS-native install"),
    ],
)
def test_install_pip_lines_name_every_package_without_a_rosdep_key(document, heading, repo_root):
    text = (repo_root / document).read_text()
    section = text[text.index(heading) :][:4000]
    assert all(name in section for name in NO_ROSDEP_KEY), section[:1500]


@pytest.mark.integration  # runs pytest
def test_pytest_starts_when_ros_launch_testing_plugins_are_on_the_path(tmp_path, repo_root):
    """A sourced ROS 2 puts launch_testing's pytest plugins on the path; under pytest 9 their
    hooks are refused (PluginValidationError) and no test runs unless the project's pytest
    configuration disables them. The plugins here are stand-ins with the same entry-point
    names and the same refused hook signature (a `path` argument)."""
    site = tmp_path / "site"
    for plugin in ("launch_testing", "launch_pytest", "launch_ros"):
        module = site / f"fake_{plugin}.py"
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text("def pytest_ignore_collect(path, config):\n    return None\n")
        info = site / f"fake_{plugin}-1.0.dist-info"
        info.mkdir()
        metadata = f"Metadata-Version: 2.1\nName: fake-{plugin}\nVersion: 1.0\n"
        (info / "METADATA").write_text(metadata)
        (info / "entry_points.txt").write_text(f"[pytest11]\n{plugin} = fake_{plugin}\n")
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "test_probe.py").write_text("def test_runs():\n    pass\n")
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    command = [sys.executable, "-m", "pytest", "-c", str(repo_root / "setup.cfg"), "--rootdir"]
    command += [str(probe), str(probe / "test_probe.py"), "-q"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "1 passed" in result.stdout, textwrap.shorten(
        result.stdout + result.stderr, 3000
    )
