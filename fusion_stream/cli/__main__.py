"""``python -m fusion_stream.cli``: the same as the ``fusion-stream`` console script."""

from fusion_stream.cli import main

main()
