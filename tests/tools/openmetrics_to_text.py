#!/usr/bin/env python3
"""Reads an OpenMetrics 1.0 exposition on stdin, parses it strictly with the reference parser
(prometheus_client.openmetrics.parser) and writes the same families in the text format 0.0.4 on
stdout, so that `promtool check metrics`, which reads only the text format, can lint them.

Exit status: 0 when the input is valid OpenMetrics; 1, with the parser's reason on stderr, when it
is not; 2 when prometheus_client is not installed (scripts/test installs the pinned version)."""

import sys

try:
    from prometheus_client.exposition import generate_latest
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
    from prometheus_client.registry import CollectorRegistry
except ImportError as missing:
    sys.stderr.write(
        f"prometheus_client is missing ({missing}): "
        "python3 -m pip install prometheus-client==0.26.0\n"
    )
    sys.exit(2)


class Parsed:
    """A collector that yields the families already parsed."""

    def __init__(self, families):
        self.families = families

    def collect(self):
        return self.families


def main():
    body = sys.stdin.read()
    try:
        families = list(text_string_to_metric_families(body))
    except Exception as invalid:  # the parser raises ValueError, and others on odd input
        sys.stderr.write(f"not valid OpenMetrics: {invalid}\n")
        return 1
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Parsed(families))
    sys.stdout.write(generate_latest(registry).decode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
