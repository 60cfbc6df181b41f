"""``highmem completion bash|zsh|fish``: a shell completion script, made from the parser itself.

The script completes subcommands, each subcommand's options, built-in scenario names where a
scenario is expected, the choices of ``--profile``/``--strategy``/``--trace-format``, and file
names elsewhere.  Nothing is installed: the script is printed, for the user to source or save.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run", "SHELLS", "completion_script"]

SHELLS = ("bash", "zsh", "fish")

#: Values completed after an option (other options complete file names).
VALUE_CHOICES = {
    "--profile": ("linux-2.4", "linux-2.6", "linux-2.6.37", "linux-5.11"),
    "--strategy": ("random", "pct", "exhaustive", "dpor"),
    "--trace-format": ("jsonl", "perfetto", "ftrace"),
    "--executor": ("process", "dask"),
    "--km-types": ("2.4.22", "book"),
}


def add_parser(sub: Any) -> None:
    """Register ``completion`` on the subcommand table ``sub``."""
    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh or fish)")
    p.add_argument("shell", metavar="SHELL", help="bash, zsh or fish")


def _model() -> tuple[dict[str, list[str]], dict[str, str], list[str]]:
    """(subcommand -> its options, subcommand -> its help, built-in scenario names)."""
    from highmem.cli import _build_parser
    from highmem.scenarios import builtin_names

    parser = _build_parser()
    options: dict[str, list[str]] = {}
    helps: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                helps[choice.dest] = choice.help or ""
            for name, sp in action.choices.items():
                options[name] = sorted(o for a in sp._actions for o in a.option_strings)
    return options, helps, builtin_names()


def completion_script(shell: str) -> str:
    """The completion script for ``shell`` (one of :data:`SHELLS`)."""
    options, helps, names = _model()
    if shell == "bash":
        return _bash(options, names)
    if shell == "zsh":
        return _zsh(options, helps, names)
    return _fish(options, helps, names)


def _bash(options: dict[str, list[str]], names: list[str]) -> str:
    cases = "\n".join(f'        {cmd}) opts="{" ".join(opts)}" ;;' for cmd, opts in options.items())
    values = "\n".join(f'        {opt}) COMPREPLY=($(compgen -W "{" ".join(v)}" -- "$cur")); return ;;'
                       for opt, v in VALUE_CHOICES.items())
    return f"""# bash completion for highmem (highmem completion bash)
_highmem() {{
    local cur prev cmd opts
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    cmd="${{COMP_WORDS[1]}}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{" ".join(options)} --version --help" -- "$cur"))
        return
    fi
    case "$prev" in
{values}
    esac
    case "$cmd" in
{cases}
        *) opts="" ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [ "$cmd" = completion ]; then
        COMPREPLY=($(compgen -W "{" ".join(SHELLS)}" -- "$cur"))
    elif [ "$cmd" = check ] || [ "$cmd" = compare ]; then
        COMPREPLY=($(compgen -W "{" ".join(names)}" -- "$cur") $(compgen -f -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o filenames -F _highmem highmem
"""


def _zsh(options: dict[str, list[str]], helps: dict[str, str], names: list[str]) -> str:
    cmds = "\n".join(f"    '{c}:{helps.get(c, '')}'".replace("'s ", "'\\''s ") for c in options)
    cases = []
    for cmd, opts in options.items():
        specs = []
        for o in opts:
            v = VALUE_CHOICES.get(o)
            specs.append(f"'{o}[]:value:({' '.join(v)})'" if v else f"'{o}'")
        if cmd in ("check", "compare"):
            specs.append(f"'*:scenario:({' '.join(names)})'")
            specs.append("'*:file:_files'")
        elif cmd == "completion":
            specs.append(f"':shell:({' '.join(SHELLS)})'")
        else:
            specs.append("'*:file:_files'")
        cases.append(f"        {cmd}) _arguments {' '.join(specs)} ;;")
    body = "\n".join(cases)
    return f"""#compdef highmem
# zsh completion for highmem (highmem completion zsh)
_highmem() {{
  local -a commands
  commands=(
{cmds}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case "$words[2]" in
{body}
  esac
}}
compdef _highmem highmem
"""


def _fish(options: dict[str, list[str]], helps: dict[str, str], names: list[str]) -> str:
    lines = ["# fish completion for highmem (highmem completion fish)", "complete -c highmem -f"]
    for c in options:
        desc = helps.get(c, "").replace("'", "\\'")
        lines.append(f"complete -c highmem -n __fish_use_subcommand -a {c} -d '{desc}'")
    for cmd, opts in options.items():
        for o in opts:
            if not o.startswith("--"):
                continue
            v = VALUE_CHOICES.get(o)
            extra = f" -x -a '{' '.join(v)}'" if v else ""
            lines.append(f"complete -c highmem -n '__fish_seen_subcommand_from {cmd}' -l {o[2:]}{extra}")
    for cmd in ("check", "compare"):
        lines.append(f"complete -c highmem -n '__fish_seen_subcommand_from {cmd}' -F -a '{' '.join(names)}'")
    lines.append(f"complete -c highmem -n '__fish_seen_subcommand_from completion' -a '{' '.join(SHELLS)}'")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Print the completion script of ``args.shell``."""
    from highmem.errors import HighmemError

    if args.shell not in SHELLS:
        raise HighmemError(f"shell {args.shell!r} has no completion script: choose bash, zsh or fish")
    import sys

    sys.stdout.write(completion_script(args.shell))
    return 0
