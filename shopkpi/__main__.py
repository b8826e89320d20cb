"""`python -m shopkpi` runs the command line."""

from shopkpi.cli import main

main()
