"""Allow ``python -m vfio_migcheck``."""

from vfio_migcheck.cli import main

main()
