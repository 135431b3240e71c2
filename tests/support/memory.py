"""Peak memory of a scan, measured in a fresh process (this one's peak already holds whatever ran before)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def scan_in_fresh_process(source: Path, convert_dir: Path, **scan_options) -> tuple[int, int, int]:
    """(converted, quarantined, peak RSS growth in MB) of ``keras_tl.data.scan`` over ``source``."""
    script = textwrap.dedent(f"""
        import resource
        from pathlib import Path
        from keras_tl.data.scan import scan
        from keras_tl.data.sources import list_source
        listing = list_source({str(source)!r})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        report = scan(listing, Path({str(convert_dir)!r}), **{scan_options!r})
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(len(report.converted), len(report.quarantined), round(grown_mb))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                            env={**os.environ})
    assert result.returncode == 0, result.stderr[-2000:]
    converted, quarantined, grown_mb = map(int, result.stdout.split())
    return converted, quarantined, grown_mb
