"""The command line, one module per command group. Each exposes ``add_parsers(sub)``, which adds its argparse
subcommands with ``func=cmd_x(args, store, s)``; ``backend/__main__.py`` registers each group with one line.
Commands parse, call the backend and print: no domain logic here."""
