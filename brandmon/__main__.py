"""`python -m brandmon`: the same as the `brandmon` command."""

from brandmon.cli import main

main()
