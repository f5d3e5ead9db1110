"""The REST API (/api/v1): personal API tokens, the OpenAPI document and its reference page, and one module per
resource over the same services as the pages (see docs/api.md)."""
