"""Entry point of the ``genesis`` command.

``genesis --version`` answers before anything heavy is imported; every other
command builds the parser (with the sub-commands plugins register) first.
Errors are one line on stderr: exit 2 for usage, config and platform errors.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing itself costs milliseconds at start-up
if TYPE_CHECKING:
    from collections.abc import Sequence


def _fast_version(argv: Sequence[str]) -> bool:
    if list(argv) in (["--version"], ["-V"]):
        from .._version import __version__

        sys.stdout.write(f"genesis {__version__}\n")
        return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code (also used as the console script)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if _fast_version(args):
        return 0
    from .app import run

    return run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
