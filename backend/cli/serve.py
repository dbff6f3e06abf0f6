"""Open the dashboard."""
from __future__ import annotations

import os
import sys

from backend import catalog, processes
from backend.cli import device_arg
from backend.config import REPO_ROOT
from backend.runs.first_start import DEFAULTS_KEY


def _check_free(address: str, port: int):
    """Streamlit would only find a taken port after the first start had begun: say it before anything starts."""
    import socket
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Streamlit's server binds it
        try:
            probe.bind((address, port))
        except OSError as e:
            raise OSError(f"cannot serve on {address}:{port} ({e.strerror}): another dashboard or program uses it; "
                          f"stop it or pass --port N") from None


def cmd_serve(args, store, s):
    """Migrate, import the reference runs on first start, then run Streamlit bound to 127.0.0.1."""
    _check_free(args.address, args.port)
    try:
        report = catalog.seed_reference(store, s.runs_dir, s.reference_dir)
        if report:
            print(f"first start: imported {len(report.result.added)} reference run(s) into {store.path}")
    except catalog.ImportErrors as e:  # the dashboard is still useful without them
        print(f"warning: reference runs not imported:\n{e}", file=sys.stderr)
    if not args.no_default_runs and not store.get_meta(DEFAULTS_KEY):
        # The dashboard opens at once with the reference runs; the default runs appear as they finish
        # (progress here and on the Launch page).
        print("first start: building the default benchmark and making the default runs in the background",
              flush=True)
        # Niced with bounded threads, so the pages stay quick while it works; handed to init (this process
        # becomes Streamlit, which never waits for it: it was left <defunct>), in this terminal's process
        # group (Ctrl+C stops it too; the next start resumes).
        processes.spawn([sys.executable, "-m", "backend", "--db", str(store.path), "--runs-dir", str(s.runs_dir),
                         "defaults"], REPO_ROOT, orphan=True, new_session=False)
    from backend.device import device_for
    print(f"device: {device_for('auto', s.device).label()} (Live search; runs choose theirs)", flush=True)
    env = {**os.environ, "DASHBOARD_DB": str(store.path), "DASHBOARD_RUNS_DIR": str(s.runs_dir),
           "DASHBOARD_DEVICE": s.device}
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.port", str(args.port),
           "--server.address", args.address]
    print(f"dashboard: http://{args.address}:{args.port}  (Ctrl+C to stop)", flush=True)
    os.execvpe(cmd[0], cmd, env)


def add_parsers(sub):
    c = sub.add_parser("serve", help="open the dashboard (imports reference runs on first start)")
    c.add_argument("--port", type=int, default=8501)
    c.add_argument("--address", default="127.0.0.1", help="bind address; 0.0.0.0 exposes it to your network")
    c.add_argument("--no-default-runs", action="store_true",
                   help="skip building the default benchmark and making the default runs on first start")
    device_arg(c)
    c.set_defaults(func=cmd_serve)
