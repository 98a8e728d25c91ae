"""Read a site file (YAML) into a :class:`~shuian.site.model.Site`, reporting every problem.

Each problem names the file, the line, the key path (``instruments[3].channels[0].unit``) and
what is wrong, and all problems are reported at once so a user fixes the file in one pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shuian.errors import SiteError
from shuian.site.model import Site, cross_reference_problems

#: libyaml's safe loader when PyYAML was built with it (several times faster), else PyYAML's.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_site(path: str | Path) -> Site:
    """Load and validate the site file at ``path``.

    Raises
    ------
    SiteError
        The file cannot be read, is not YAML, or does not describe a valid site; the message
        lists every problem with its line and key path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SiteError(str(path), [f"cannot read the file: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise SiteError(str(path), [f"not UTF-8 text (byte {exc.start})"]) from exc
    return parse_site(text, source=str(path))


def parse_site(text: str, *, source: str = "<site>") -> Site:
    """Validate the YAML text of a site file; ``source`` names it in messages."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SiteError(source, [f"{where}not valid YAML: {problem}"]) from exc
    if not isinstance(data, dict):
        raise SiteError(
            source, ["the file must be a mapping with keys reservoir, dam, instruments"]
        )
    try:
        return Site.model_validate(data)
    except ValidationError as exc:
        # The site-wide check (loc ()) is redone below on the raw data, where it also runs
        # when other parts of the file are invalid, and reports each problem at its key.
        errors = [e for e in exc.errors(include_url=False) if e["loc"] != ()]
        locations = [tuple(e["loc"]) for e in errors]
        problems = [_describe(e, node) for e in errors if not _consequence(e, locations)]
        for loc, message in cross_reference_problems(data):
            path, line = _locate(loc, node)
            problems.append(f"line {line}: {path}: {message}")
        raise SiteError(source, problems) from None


def _consequence(error: Any, locations: list[tuple[Any, ...]]) -> bool:
    """Whether an error only follows from another: a list "too short" because an item failed."""
    loc = tuple(error["loc"])
    return error["type"] == "too_short" and any(
        len(other) > len(loc) and other[: len(loc)] == loc for other in locations
    )


def _describe(error: Any, root: yaml.Node | None) -> str:
    loc: tuple[Any, ...] = tuple(error["loc"])
    path, line = _locate(loc, root)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "required key is missing"
    elif error["type"] == "extra_forbidden":
        message = "unknown key (check its spelling)"
    elif error["type"] == "union_tag_invalid":
        message = f"unknown conversion kind; {message}"
    where = f"line {line}: " if line is not None else ""
    return f"{where}{path or '(top level)'}: {message}"


def _locate(loc: tuple[Any, ...], root: yaml.Node | None) -> tuple[str, int | None]:
    """Turn a pydantic location into a key path and the YAML line of its deepest known node."""
    path = ""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(part, int):
            if isinstance(node, yaml.SequenceNode) and part < len(node.value):
                child = node.value[part]
            path += f"[{part}]"
        else:
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if key_node.value == part:
                        child = value_node
                        break
                else:
                    if _is_union_tag(node, part):
                        continue  # a discriminated union's tag, not a key of the file
            path += f".{part}" if path else str(part)
        node = child
        if node is not None:
            line = node.start_mark.line + 1
    return path, line


def _is_union_tag(node: yaml.MappingNode, part: str) -> bool:
    return any(k.value == "kind" and getattr(v, "value", None) == part for k, v in node.value)
