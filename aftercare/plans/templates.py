"""The program's plan templates, kept as data files next to this module.

Counselors start a graduate's plan from a template (``POST .../plan {template_id}``) and then edit it,
so a template is an ordinary ``PlanBody`` that must pass the same validation as any plan. The files
are read and validated once, on first use: a broken template is a start-up error, never a 500 later.
Each ``templates/*.json`` holds a JSON array of ``PlanTemplate``; ids are unique across files.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

import msgspec

from aftercare.errors import ValidationFailed
from aftercare.plans.schemas import PlanTemplate
from aftercare.plans.validation import validate_plan

_decode_file = msgspec.json.Decoder(list[PlanTemplate]).decode


class TemplateError(RuntimeError):
    """A template file that does not decode or validate; raised while the app starts."""


def load_templates() -> list[PlanTemplate]:
    """Every template, in file-name order then file order."""
    return list(_templates_by_id().values())


def get_template(template_id: str) -> PlanTemplate | None:
    return _templates_by_id().get(template_id)


def read_templates(folder: Traversable) -> dict[str, PlanTemplate]:
    """The templates in ``folder``'s ``*.json`` files by id; ``TemplateError`` for any broken one."""
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    found: dict[str, PlanTemplate] = {}
    for file in files:
        try:
            templates = _decode_file(file.read_bytes())
        except msgspec.DecodeError as exc:
            raise TemplateError(f"plan template file {file.name}: {exc}") from exc
        for template in templates:
            if template.id in found:
                raise TemplateError(
                    f"plan template file {file.name}: template id {template.id!r} is used twice"
                )
            try:
                validate_plan(template.plan)
            except ValidationFailed as exc:
                raise TemplateError(f"plan template {template.id!r} in {file.name}: {exc.detail}") from exc
            found[template.id] = template
    return found


@cache
def _templates_by_id() -> dict[str, PlanTemplate]:
    return read_templates(resources.files("aftercare.plans").joinpath("templates"))
