"""Earlier names that still work for one release, and the message that says what to use
instead: the command line, the presets and the pipeline runner resolve them here."""

from __future__ import annotations

# {kind of name: {earlier name: current name}}
EARLIER = {"preset": {"svhn": "house_numbers"},
           "data set": {"mnist_house_numbers": "house_numbers"},
           "command": {"flops": "multiplications"}}


def current(kind: str, name: str) -> str | None:
    """The current name of `name` if it is an earlier `kind` name, else None."""
    return EARLIER[kind].get(name)


def message(kind: str, name: str) -> str:
    """What to say when the earlier `kind` name `name` is used ("the ... name ...")."""
    new = current(kind, name)
    return (f"the {kind} name {name!r} is deprecated and will be removed in the next release; "
            f"use {f'`dcn {new}`' if kind == 'command' else repr(new)}.")
