"""Pipelines (schema `tenant`)."""
