"""Publish: accepted, deduplicated samples into HF-layout Parquet shards with a manifest and a dataset card.

`stage.publish` is the entry point; `select` decides in SQL what is published and why the rest is not;
`shards` writes the Parquet files; `swap` puts a publication in place atomically; `card` renders README.md.
"""
