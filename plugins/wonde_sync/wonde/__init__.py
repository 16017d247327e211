"""Talking to Wonde: the HTTP client, its typed errors, Wonde's objects and webhook payloads."""
