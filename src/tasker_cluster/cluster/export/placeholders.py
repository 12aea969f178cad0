"""The placeholders of `command` and `env` ({python}, {port}, {index}, {name}, {project_dir}) inside a container.

Locally they name the host's interpreter, the instance's own port and the project folder. In a container the
interpreter is the image's `python3`, every instance of a service listens on the service's base port (each in its own
network namespace), and the project is the image's working folder (see the repository's Containerfile).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from string import Formatter

# The services' image (Containerfile) installs the project here and puts its interpreter first on PATH.
IMAGE_PROJECT_DIR = "/app"
# `python3`, not `python`: Debian's and Ubuntu's python3 packages, Alpine's and distroless images have no `python`
# without an extra package, while every Python 3 install has `python3`, a virtual environment included (ours).
IMAGE_PYTHON = "python3"


def substitute(template: str, values: Mapping[str, str], escape: Callable[[str], str]) -> str:
    """`template` with each placeholder replaced by `values[name]` as is, and the literal text around them passed
    through `escape` (the target's own interpolation syntax, e.g. compose's `$`, must not fire on user text).

    KeyError names a placeholder `values` has no entry for; the configuration's validation already refused unknown ones.
    """
    parts = []
    for literal, field, _, _ in Formatter().parse(template):
        parts.append(escape(literal))
        if field is not None:
            parts.append(values[field])
    return "".join(parts)


def placeholders_in(template: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(template) if field is not None}
