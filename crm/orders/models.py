"""Orders (schema `tenant`)."""
