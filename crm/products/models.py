"""Products (schema `tenant`)."""
