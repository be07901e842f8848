"""Docs that tests keep honest: the README's "Command line" block against the
CLI's command tree, the README's settings table and ``.env.example`` against the settings
model, and ``docs/api.md`` against the routes the Flask server registers.

All in process (no subprocess, no database): the CLI tree comes from typer, the routes from an
app created on an unreachable database (creating it connects to nothing). Each check is a
function returning the disagreements, so the last tests can show that it catches a broken
document.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer
from pydantic import SecretStr

from gridcmd.settings import PROJECT_ROOT, Settings

README = PROJECT_ROOT / "README.md"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
API_MD = PROJECT_ROOT / "docs" / "api.md"
#: Nothing listens on TCP port 1 on localhost (as in tests/test_app.py).
DEAD_DB = "postgresql+psycopg://postgres@127.0.0.1:1/gridcmd_absent"


def _section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section of a Markdown text (up to the next ``## ``)."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no '## {heading}' section"
    return match.group(1)


# ----------------------------------------------------------------------------- command line


def cli_tree() -> dict[tuple[str, ...], set[str]]:
    """Every leaf command of ``gridcmd`` (as its path of names) → its option strings."""
    from gridcmd.cli import app

    leaves: dict[tuple[str, ...], set[str]] = {}

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(None):
                walk(cmd.get_command(None, name), (*path, name))
        else:
            leaves[path] = {
                o
                for p in cmd.params
                if p.param_type_name == "option"
                for o in (*p.opts, *p.secondary_opts)
            }

    walk(typer.main.get_command(app), ())
    return leaves


def readme_cli_entries(readme: str) -> list[tuple[str, tuple[str, ...] | None, set[str]]]:
    """The README's "Command line" block as (line, command path or None, options named).

    A line is ``gridcmd <usage>``, three or more spaces, then a description. The usage may
    list alternatives of one group separated by ``" | "`` (``gridcmd db up | down | status``):
    each after the first names a sibling of the first one's command. A path is the longest
    run of words that are commands; None when the line names no command."""
    block = re.search(r"```\n(.*?)```", _section(readme, "Command line"), re.S)
    assert block, "no code block in the README's 'Command line' section"
    groups = {path[:i] for path in cli_tree() for i in range(len(path))}
    entries = []
    for line in block.group(1).splitlines():
        if not line.startswith("gridcmd "):
            continue
        usage = re.split(r"\s{3,}", line, maxsplit=1)[0]
        first, *others = usage.split(" | ")
        words = first.split()[1:]
        path: tuple[str, ...] = ()
        while words and path in groups and _is_name(words[0]):
            path, words = (*path, words[0]), words[1:]
        entries.append((line, path or None, set(re.findall(r"--[a-z][a-z0-9-]*", first))))
        for alt in others:
            sibling = (*path[:-1], alt.split()[0]) if path else None
            entries.append((line, sibling, set(re.findall(r"--[a-z][a-z0-9-]*", alt))))
    return entries


def _is_name(word: str) -> bool:
    return re.fullmatch(r"[a-z][a-z0-9-]*", word) is not None


def cli_problems(readme: str) -> list[str]:
    """Disagreements between the README's command block and the CLI."""
    leaves = cli_tree()
    entries = readme_cli_entries(readme)
    documented = {path for _, path, _ in entries if path is not None}
    problems = [f"missing from the README: gridcmd {' '.join(p)}"
                for p in sorted(leaves) if p not in documented]  # fmt: skip
    for line, path, options in entries:
        if path not in leaves:
            what = "gridcmd " + " ".join(path) if path else line
            problems.append(f"not a command: {what!r}")
            continue
        problems += [f"gridcmd {' '.join(path)} has no option {o}"
                     for o in sorted(options - leaves[path])]  # fmt: skip
    return problems


def test_readme_command_block_matches_the_cli():
    """Every command and subcommand is in the README's block, the block names only real
    commands, and every option it shows exists."""
    assert cli_problems(README.read_text(encoding="utf-8")) == []


# ----------------------------------------------------------------------------- settings


def env_name(name: str, field: Any) -> str:
    """The environment variable of a settings field."""
    alias = field.validation_alias
    return alias if isinstance(alias, str) else Settings.model_config["env_prefix"] + name.upper()


FIELDS = {env_name(n, f): f for n, f in Settings.model_fields.items()}


def default_matches(field: Any, text: str) -> bool:
    """Whether ``text`` (as the README writes it) states ``field``'s default: ``unset`` for no
    value, ``true``/``false``, numbers by value, paths relative to the checkout as ``./…``; a
    secret's default must not be printed at all."""
    d = field.default
    if isinstance(d, SecretStr):
        return bool(text) and d.get_secret_value() not in text
    if d is None or d == "":
        return text.startswith("unset")
    if isinstance(d, bool):
        return text == str(d).lower()
    if isinstance(d, int | float):
        try:
            return float(text.replace(",", "").replace("_", "")) == float(d)
        except ValueError:
            return False
    if isinstance(d, Path):
        try:
            return text == "./" + str(d.relative_to(PROJECT_ROOT))
        except ValueError:
            return text == str(d)
    return text == str(d)


def _cells(row: str) -> list[str]:
    """The cells of a Markdown table row (a ``|`` inside backticks does not split)."""
    return [c.strip() for c in re.split(r"\|(?=(?:[^`]*`[^`]*`)*[^`]*$)", row.strip())[1:-1]]


def settings_table(readme: str) -> dict[str, str]:
    """The README's settings table: variable → the default as written (backticks removed)."""
    table: dict[str, str] = {}
    for row in _section(readme, "Settings").splitlines():
        if not row.startswith("| `"):
            continue
        names_cell, default_cell = _cells(row)[:2]
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", names_cell)
        defaults = re.findall(r"`([^`]*)`", default_cell) or [default_cell]
        if len(defaults) == 1:
            defaults *= len(names)  # one default for every variable of the row
        assert len(defaults) == len(names), f"defaults do not pair with variables: {row}"
        table.update(zip(names, defaults, strict=True))
    return table


def settings_table_problems(readme: str) -> list[str]:
    """Disagreements between the README's settings table and :class:`Settings`."""
    table = settings_table(readme)
    problems = [f"no README row for {v}" for v in sorted(FIELDS.keys() - table.keys())]
    problems += [f"README row {v} is no setting" for v in sorted(table.keys() - FIELDS.keys())]
    problems += [f"README default of {v} is {table[v]!r}, the model's {FIELDS[v].default!r}"
                 for v in sorted(table.keys() & FIELDS.keys())
                 if not default_matches(FIELDS[v], table[v])]  # fmt: skip
    return problems


def env_example(text: str) -> dict[str, str]:
    """The variables of ``.env.example`` (commented out or not) → their values."""
    return dict(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", text, re.M))


def env_example_problems(text: str) -> list[str]:
    """Disagreements between ``.env.example`` and :class:`Settings`. A setting with a plain
    default must show it; one without a value by default, a path or a secret shows an
    example instead."""
    values = env_example(text)
    problems = [f"{v} is not in .env.example" for v in sorted(FIELDS.keys() - values.keys())]
    problems += [
        f".env.example sets {v}, no setting" for v in sorted(values.keys() - FIELDS.keys())
    ]
    for v in sorted(values.keys() & FIELDS.keys()):
        d = FIELDS[v].default
        example = d is None or d == "" or isinstance(d, SecretStr | Path)
        if not example and not default_matches(FIELDS[v], values[v]):
            problems.append(f".env.example has {v}={values[v]}, the default is {d!r}")
    return problems


def test_readme_settings_table_matches_the_model():
    """Every settings field has a README row, every row is a field, the defaults agree."""
    assert settings_table_problems(README.read_text(encoding="utf-8")) == []


def test_env_example_matches_the_model():
    """Every settings field is in .env.example, every variable there is a field, and plain
    defaults agree."""
    assert env_example_problems(ENV_EXAMPLE.read_text(encoding="utf-8")) == []


# ----------------------------------------------------------------------------- routes

#: A path in running text; it ends at white space, a backtick, "?" or "[" (query), ")" ...
_PATH = re.compile(r"(?<![\w./])/[A-Za-z0-9_.<>{}:|/-]*")
API_PREFIX = "/api/v1"


def _normalise(path: str) -> str:
    """Placeholders (``<int:id>``, ``<uuid>``, ``{z}``) become ``<>``; trailing dots go."""
    return re.sub(r"<[^<>]*>|\{[^{}]*\}", "<>", path).rstrip(".:")


def documented_paths(text: str) -> set[str]:
    """The paths a document names; ``/events/<uuid>/accept|start`` and ``/x.csv|xlsx`` name
    one path per alternative (each replaces what follows the last ``/`` or ``.``; a table
    cell escapes ``|`` as ``\\|``)."""
    paths = set()
    for token in _PATH.findall(text.replace("\\|", "|")):
        first, *others = token.split("|")
        cut = max(first.rfind("/"), first.rfind(".")) + 1
        paths.update(_normalise(p) for p in [first, *(first[:cut] + o for o in others)])
    return paths


def app_routes() -> list[str]:
    """The rules of the app's Flask server, less Dash's own (those of a bare Dash app: the
    page, component bundles, callbacks, assets, static) and the catch-alls that answer
    unknown paths under a prefix (``…/<path:rest>``)."""
    import dash

    from app import create_app
    from geodata.db import make_engine

    settings = Settings(DATABASE_URL=DEAD_DB, secret_key="test-secret",
                        var_dir=PROJECT_ROOT / "var", basemap_url=None)  # fmt: skip
    engine = make_engine(DEAD_DB, connect_args={"connect_timeout": 2})
    try:
        server = create_app(settings, engine).server
    finally:
        engine.dispose()
    dash_own = {r.rule for r in dash.Dash(__name__).server.url_map.iter_rules()}
    return sorted({r.rule for r in server.url_map.iter_rules()
                   if r.rule not in dash_own and not r.rule.endswith("/<path:rest>")})  # fmt: skip


def route_problems(rules: list[str], api_md: str) -> list[str]:
    """The routes docs/api.md does not name (``/api/v1`` routes may drop the prefix)."""
    named = documented_paths(api_md)
    missing = []
    for rule in rules:
        path = _normalise(rule)
        short = path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else None
        if path not in named and short not in named:
            missing.append(f"route {rule} is not in docs/api.md")
    return missing


def test_every_route_is_in_api_md():
    """Every route the server registers (Dash's own aside) is named in docs/api.md."""
    assert route_problems(app_routes(), API_MD.read_text(encoding="utf-8")) == []


# ----------------------------------------------------------------------------- the checks


def test_the_checks_catch_broken_docs():
    """Each check reports a document that disagrees (so a passing test means something)."""
    readme = README.read_text(encoding="utf-8")
    no_lod = "\n".join(line for line in readme.splitlines()
                       if not line.startswith("gridcmd lod build"))  # fmt: skip
    assert "missing from the README: gridcmd lod build" in cli_problems(no_lod)
    extra = readme.replace("gridcmd check ", "gridcmd check --fast ", 1)
    assert "gridcmd check has no option --fast" in cli_problems(extra)
    bogus = readme.replace("gridcmd audit verify", "gridcmd audit verify | repair", 1)
    assert "not a command: 'gridcmd audit repair'" in cli_problems(bogus)

    table = readme.replace("`127.0.0.1`, `8050`", "`127.0.0.1`, `8080`", 1)
    assert any("GRIDCMD_PORT" in p for p in settings_table_problems(table))
    env = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert ".env.example has GRIDCMD_PORT=8080, the default is 8050" in env_example_problems(
        env.replace("GRIDCMD_PORT=8050", "GRIDCMD_PORT=8080"))  # fmt: skip
    assert "GRIDCMD_DEBUG is not in .env.example" in env_example_problems(
        env.replace("GRIDCMD_DEBUG=", "GRIDCMD_DEBUGGING="))  # fmt: skip

    rules = ["/api/v1/events/<event_uuid>/start", "/export/events.xlsx",
             "/tiles/<int:z>/<int:x>/<int:y>.<ext>"]  # fmt: skip
    doc = ("| `POST /events/<uuid>/accept\\|start` | `GET /export/events.csv|xlsx` |\n"
           "`GET /tiles/{z}/{x}/{y}.<ext>`")  # fmt: skip
    assert route_problems(rules, doc) == []
    assert route_problems(["/geo/grid.pbf", "/api/v1/me"], "`/geo/grid.pbf?z=` `/me/tasks`") == [
        "route /api/v1/me is not in docs/api.md"
    ]
