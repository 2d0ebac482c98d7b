"""The ``fusion-stream`` command line: one click group, one module per command family."""

from __future__ import annotations

import importlib

import click

#: (module under fusion_stream.cli, attribute holding the click command or group)
COMMANDS = [
    ("kafka", "kafka"),
    ("topics", "topics"),
    ("worker", "worker"),
    ("send", "send"),
    ("send", "outcomes"),
    ("sink", "sink"),
    ("providers", "providers"),
    ("dlq", "dlq"),
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """fusion-stream: the notification worker on Kafka."""


for module_name, attr in COMMANDS:
    module = importlib.import_module(f"fusion_stream.cli.{module_name}")
    main.add_command(getattr(module, attr))
