"""Contacts: the people of a company customer."""
