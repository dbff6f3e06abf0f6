"""The command line, one module per command group; each adds its commands with ``add_parsers(sub)``."""


def device_arg(c):
    """--device of a command (not launch: there it is the config's option): overrides DASHBOARD_DEVICE for it, and
    for the runs it starts whose config says auto (their run ids stay those of the default)."""
    c.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: $DASHBOARD_DEVICE, itself auto)")
