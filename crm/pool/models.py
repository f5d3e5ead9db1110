"""Pool (schema `tenant`)."""
