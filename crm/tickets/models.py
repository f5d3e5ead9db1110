"""Tickets (schema `tenant`)."""
