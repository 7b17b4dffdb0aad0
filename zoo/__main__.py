"""`python -m zoo ...`: the `zoo` command line (see zoo/cli.py)."""

from zoo.cli import main

raise SystemExit(main())
