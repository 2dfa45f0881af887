"""`python -m skd_ros.data.synthetic`: write a synthetic aerial dataset (see ``--help``)."""

from skd_ros.data.synthetic import main

raise SystemExit(main())
