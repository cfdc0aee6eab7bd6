"""The run directory's store: everything a run keeps on disk, and the contracts of what it publishes.

- `rundir`: the directory's identity, lock, sessions and atomic writes;
- `journal`: the durable, append-only journal of teacher samples, its index and the compacted samples;
- `records`: the record models (pydantic) and the explicit Arrow schemas derived from them;
- `provenance`: the DuckDB provenance database, written by the driver only;
- `schemas`: renders the published contracts into `schemas/` and checks them for drift.
"""
