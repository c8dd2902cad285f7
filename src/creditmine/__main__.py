"""`python -m creditmine`."""

from creditmine.cli import main

main()
