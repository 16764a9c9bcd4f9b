"""Client profiles drawn from a demo day, in the `taar-assets recommend` input format.

`write_demo_dataset` writes `profiles.jsonl` with them (the README's recommend example), and the
drift monitor's packaged panel (`taar_assets/monitoring/drift_panel.jsonl`) was drawn the same
way: `python -m taar_assets.demo.profiles data/demo/clients_daily/submission_date_s3=YYYYMMDD/part-0.parquet 300 panel`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from taar_assets.similarity.features import FEATURES
from taar_assets.similarity.rules import FIREFOX, RELEASE_CHANNEL


def sample_profiles(day_file: str | Path, count: int, seed: int = 0, id_prefix: str | None = None) -> list[dict]:
    """`count` release-Firefox clients of one clients_daily file as service profiles (geo_city,
    subsession_length in seconds, ...) with their installed add-ons; client ids are kept, or
    replaced by `<id_prefix>-<n>`."""
    rows = pq.read_table(day_file)
    rows = rows.filter(
        pc.and_(
            pc.and_(pc.equal(rows["channel"], RELEASE_CHANNEL), pc.equal(rows["app_name"], FIREFOX)),
            pc.is_valid(rows["client_id"]),
        )
    )
    chosen = np.sort(np.random.default_rng(seed).choice(rows.num_rows, min(count, rows.num_rows), replace=False))
    records = rows.take(chosen).to_pylist()
    profiles = []
    for number, record in enumerate(records):
        profile = {"client_id": f"{id_prefix}-{number:03d}" if id_prefix else record["client_id"]}
        for feature in FEATURES:
            value = record[feature.source]
            scaled = value * feature.service_scale if feature.kind == "continuous" and value is not None else value
            profile[feature.service_key] = scaled
        profile["installed_addons"] = [addon["addon_id"] for addon in record["active_addons"] or []]
        profiles.append(profile)
    return profiles


def profiles_jsonl(profiles: list[dict]) -> bytes:
    return "".join(json.dumps(profile) + "\n" for profile in profiles).encode()


if __name__ == "__main__":
    day_file, count, prefix = sys.argv[1], int(sys.argv[2]), (sys.argv[3] if len(sys.argv) > 3 else None)
    sys.stdout.buffer.write(profiles_jsonl(sample_profiles(day_file, count, id_prefix=prefix)))
