"""Security headers on every response, and the endpoint browsers report Content-Security-Policy violations to."""
