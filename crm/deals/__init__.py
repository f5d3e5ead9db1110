"""Pipelines, stages and deals: the kanban board and the deal list."""
