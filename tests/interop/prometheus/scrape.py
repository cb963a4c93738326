"""Scrapes umbox's /metrics with the Prometheus project's Python client library and prints every
sample on a line of its own: name, TAB, its labels as k=v joined by commas (sorted), TAB, value.

Usage: scrape.py URL. The parser raises on anything that is not valid Prometheus text exposition
format, which fails the calling test.
"""

import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main():
    url = sys.argv[1]
    with urllib.request.urlopen(url, timeout=10) as response:
        content_type = response.headers.get("Content-Type", "")
        text = response.read().decode("utf-8")
    if not content_type.startswith("text/plain; version=0.0.4"):
        sys.exit(f"unexpected content type {content_type!r}")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            print(f"{sample.name}\t{labels}\t{sample.value}")


if __name__ == "__main__":
    main()
