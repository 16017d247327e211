"""Operators' tools: sites, API tokens and site admins, the admin CLI."""
