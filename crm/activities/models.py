"""Activities (schema `tenant`)."""
