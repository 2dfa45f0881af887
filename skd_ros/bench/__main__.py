"""`python -m skd_ros.bench`: see `skd_ros.bench.cli`."""

from skd_ros.bench.cli import main

raise SystemExit(main())
