"""Benchmarks of skd_ros: `python -m skd_ros.bench`."""
