"""Shared terms of every other subpackage: the database, Sync History, the vocabulary."""
