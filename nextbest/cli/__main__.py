"""`python -m nextbest.cli` runs the command line."""

from nextbest.cli.main import main

main()
