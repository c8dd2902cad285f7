"""`python -m creditmine.cli`."""

from creditmine.cli import main

main()
