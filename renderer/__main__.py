"""`python -m renderer` is the `chohyo` command."""

from renderer.cli import main

main()
