"""Is an installed plugin built for this core's plugin API?

A plugin declares the API it was built against as its requirement on the core,
``genesis-envsync>=X.Y,<X.Y+1`` (the core's minor release is its plugin API
version while Genesis is 0.x, ``genesis_core.api.API_VERSION``).  Discovery reads
that requirement from the plugin distribution's metadata (``Requires-Dist``) and
judges it here once, with ``packaging`` (the same PEP 440/508 rules pip applies);
the verdict is cached with the entry points, so a warm start imports neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ._version import API_VERSION, __version__

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

CORE_DISTRIBUTION = "genesis-envsync"


def core_requirement(requires: Iterable[str] | None) -> str | None:
    """Return the requirement on ``genesis-envsync`` among a distribution's ``Requires-Dist`` lines.

    Requirements behind a marker that does not hold here (an extra, another Python)
    are not the plugin's requirement on this core; ``None`` when there is none.
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    for line in requires or ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != CORE_DISTRIBUTION:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        return line.split(";", 1)[0].strip()
    return None


def incompatibility(requirement: str | None, distribution: str, version: str,
                    core_version: str = __version__) -> str | None:
    """Return why a plugin of ``distribution`` ``version`` that requires ``requirement`` cannot load
    with this core (one line naming both versions), or ``None`` when it can."""
    if not requirement:
        return None
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    try:
        specifier = Requirement(requirement).specifier
        core = Version(core_version)
    except (InvalidRequirement, InvalidVersion):
        return None  # nothing to judge by: the import itself will tell
    if specifier.contains(core, prereleases=True):
        return None
    built_for = _api_of(specifier)
    plugin = f"{distribution} {version}".strip()
    wanted = f"plugin API {built_for} ({requirement})" if built_for else requirement
    if built_for:
        newer = Version(built_for) > Version(API_VERSION)
        advice = (f"upgrade {CORE_DISTRIBUTION}" if newer
                  else f"install a release of {distribution} built for plugin API {API_VERSION}")
    else:
        advice = f"install versions of {distribution} and {CORE_DISTRIBUTION} that match"
    return (f"{plugin} is built for {wanted}, but this is {CORE_DISTRIBUTION} {core_version} "
            f"(plugin API {API_VERSION}): {advice}")


def _api_of(specifier: SpecifierSet) -> str | None:
    """Return the ``X.Y`` a specifier set starts at (its ``>=``, ``==`` or ``~=`` bound), if any."""
    from packaging.version import InvalidVersion, Version

    for spec in specifier:
        if spec.operator in (">=", "==", "~=", "==="):
            try:
                release = Version(spec.version.rstrip(".*")).release
            except InvalidVersion:
                continue
            return f"{release[0]}.{release[1] if len(release) > 1 else 0}"
    return None
