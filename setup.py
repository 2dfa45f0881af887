"""ament_python build of skd_ros: executables go to lib/skd_ros, data to share/skd_ros."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "skd_ros"


def shared(target: str, *patterns: str) -> tuple[str, list[str]]:
    """Install every file matching one of `patterns` into share/skd_ros/<target>."""
    return (f"share/{PACKAGE}/{target}", sorted(f for p in patterns for f in glob(p)))


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        shared("launch", "launch/*.launch.py"),
        shared("config", "config/*.yaml", "config/*.xml"),
        shared("models", "resource/models/*"),
    ],
    python_requires=">=3.10",
    install_requires=["setuptools", "numpy", "opencv-contrib-python-headless", "pyyaml"],
    extras_require={
        "train": [
            "torch==2.13.0",
            "tqdm",
            "safetensors",
            "onnx",
            "onnxscript",
            "matplotlib",
            "scipy",
            "rosbags",
            "rosbags-image",
        ],
        "runtime": ["onnxruntime", "onnx", "rosbags", "rosbags-image"],
        "test": ["pytest", "ruff", "mypy"],
    },
    zip_safe=True,
    maintainer="skd_ros maintainers",
    maintainer_email="maintainers@skd-ros.invalid",
    description="Real-time visual saliency for drones by spatiotemporal knowledge distillation",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "demo_node = skd_ros.demo_node:main",
            "saliency_node = skd_ros.ros.node:main",
            "replay = skd_ros.tools.replay:main",
            "measure_node = skd_ros.tools.measure:main",
            "bench = skd_ros.bench.cli:main",
            "train = skd_ros.training.cli:main",
        ],
    },
)
