"""The pipeline's stages, in the order a run goes through them; each is plain Python over files and
Arrow tables, resumable on its own, and runs its parallel work through an executor it is handed.

    sources   problems from HF datasets / JSONL / Parquet: normalize, content-hash ids, dedup, decontaminate
    generate  ask the teacher for n samples per problem, each journaled before it counts
    judge     trace filters, the verifier and token counts: one verdict per sample and judging rules
    publish   accepted samples into Parquet shards, a manifest and a dataset card

`factory.runner` runs them in order on one run directory, then writes provenance (`factory.store`).
A new stage gets a package here (curation, for one, goes between sources and generate); training and
evaluation consume the published shards and get top-level packages of their own.
"""
