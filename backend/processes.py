"""Whether a process is alive: the one check for runs, imports and their staging folders."""
from __future__ import annotations

import os


def alive(pid) -> bool:
    """True while process ``pid`` exists on this machine. A process of another user is alive too: signalling
    it is refused (PermissionError), which is no sign of its end. Not a whole number: False."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
