"""``python -m gridcmd.cli``: the same command line as the ``gridcmd`` script."""

from gridcmd.cli import main

main()
