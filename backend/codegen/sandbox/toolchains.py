"""How each language's program is built and run in a sandbox: registered toolchains (Python, Java)."""
from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass

from backend import registry
from backend.codegen.sandbox.bwrap import SandboxUnavailable


@dataclass(frozen=True)
class Step:
    """One command of a language's toolchain; argv None: load prog.py in the forked child (Python).

    A failing ``compile`` step means ERROR (never ran), not FAIL."""
    argv: list[str] | None
    compile: bool = False


@dataclass(frozen=True)
class Toolchain:
    name: str
    file_name: str
    steps: "callable"  # () -> list[Step]
    # A program still running after this long (compile included) is taken to be waiting out its timeout: it
    # gives its core to the next program (Pool). HumanEval programs take milliseconds; javac about a second.
    demote_after_s: float = 0.5


TOOLCHAINS: dict[str, Toolchain] = {}


def register_toolchain(toolchain: Toolchain):
    registry.add(TOOLCHAINS, toolchain.name, toolchain, "sandbox toolchain")


JVM_FLAGS = ["-Xmx256m", "-Xss1m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=32m",
             "-XX:MaxMetaspaceSize=128m", "-XX:CompressedClassSpaceSize=64m", "-Xshare:auto", "-XX:-UsePerfData"]  # no hsperfdata file in /tmp


def _java_steps() -> list[Step]:
    javac, java = (_host_tool(t) for t in ("javac", "java"))
    return [Step([javac, "-nowarn", *(f"-J{f}" for f in JVM_FLAGS), "Problem.java"], compile=True),
            Step([java, *JVM_FLAGS, "-cp", ".", "Problem"])]


@functools.lru_cache(maxsize=None)
def _host_tool(name: str) -> str:
    """The real file behind a tool (no /etc/alternatives hop inside the sandbox)."""
    found = shutil.which(name, path="/usr/bin:/bin:/usr/local/bin")
    if not found:
        raise SandboxUnavailable(f"{name} is not installed; for Java problems: apt-get install openjdk-17-jdk-headless")
    return os.path.realpath(found)


register_toolchain(Toolchain("python", "prog.py", lambda: [Step(None)], demote_after_s=0.3))
register_toolchain(Toolchain("java", "Problem.java", _java_steps, demote_after_s=3.0))
