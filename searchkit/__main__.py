"""Run searchkit's command line: python -m searchkit."""

from .cli import main

raise SystemExit(main())
