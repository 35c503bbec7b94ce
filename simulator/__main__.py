"""``python -m pssim``: the ``pssim`` command."""

from pssim.cli import main

main()
