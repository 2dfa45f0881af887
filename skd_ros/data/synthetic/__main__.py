"""`python -m skd_ros.data.synthetic`: write a synthetic aerial dataset (see ``--help``)."""

from skd_ros.data.synthetic.cli import main

raise SystemExit(main())
