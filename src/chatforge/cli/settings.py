"""`chatforge config`: show the settings in effect, change one in chatforge.yaml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from chatforge.cli.common import BotOpt, JsonOpt, open_bot, print_json

config_app = typer.Typer(help="Show the settings of a bot.", no_args_is_help=True)


@config_app.command("show")
def config_show(bot: BotOpt = None, json_out: JsonOpt = False) -> None:
    """Print the settings in effect (file plus CHATFORGE_* overrides)."""
    b = open_bot(bot)
    if json_out:
        print_json(b.settings.model_dump())
    else:
        from chatforge.profiles import render_yaml

        typer.echo(render_yaml(b.settings), nl=False)


@config_app.command("set")
def config_set(
    key: Annotated[str, typer.Argument(help="SECTION.KEY, e.g. llm.model.")],
    value: Annotated[str, typer.Argument(help="The new value (YAML: 8, true, [a, b], text).")],
    bot: BotOpt = None,
) -> None:
    """Change one setting in the bot's chatforge.yaml; it is checked before it is written."""
    import yaml

    from chatforge.config import CONFIG_FILE, Settings
    from chatforge.errors import ConfigError
    from chatforge.folders import find_bot_dir

    path = find_bot_dir(bot) / CONFIG_FILE
    Settings.load(path.parent)
    section, _, name = key.partition(".")
    field = Settings.model_fields.get(section)
    model = getattr(field, "annotation", None)
    if not name or not hasattr(model, "model_fields") or name not in model.model_fields:
        raise ConfigError(f"unknown setting `{key}`; see `chatforge config show` for valid keys")
    parsed = yaml.safe_load(value) if value.strip() else value
    if key == "llm.model":
        from chatforge.models import finetuned_folder, served_path

        run = finetuned_folder(value)
        parsed = str(served_path(run).resolve()) if run else value
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        model(**{**(data.get(section) or {}), name: parsed})
    except ValueError as e:
        msg = e.errors()[0]["msg"] if hasattr(e, "errors") else str(e)
        raise ConfigError(f"setting `{key}`: {msg.lower()}") from None
    _write_setting(path, section, name, parsed)
    typer.echo(f"{key} = {parsed} in {path}")


def _write_setting(path: Path, section: str, name: str, value: Any) -> None:
    """Replace (or add) one `  name: value` line under `section:`, keeping the comments."""
    import yaml

    dumped = yaml.safe_dump(value, default_flow_style=True, width=2**31, allow_unicode=True)
    line = f"  {name}: {dumped.strip().removesuffix('...').strip()}"
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next((i for i, x in enumerate(lines) if x.rstrip() == f"{section}:"), None)
    if start is None:
        lines += ["", f"{section}:", line]
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()),
            len(lines),
        )
        at = next((i for i in range(start + 1, end) if lines[i].startswith(f"  {name}:")), None)
        if at is None:
            lines.insert(start + 1, line)
        else:
            lines[at] = line
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
