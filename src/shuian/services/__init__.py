"""Use cases: ingest a batch, build the demo; the ways in (CLI, API) call these."""
