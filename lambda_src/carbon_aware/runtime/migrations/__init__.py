"""Migrations between regions: states, repository, orchestrator and strategies."""
