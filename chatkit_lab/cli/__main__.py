"""``python -m chatkit_lab.cli``: the command line."""

from chatkit_lab.cli import main

main()
