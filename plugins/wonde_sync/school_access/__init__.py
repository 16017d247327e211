"""A site's access to its school's data: states, lifecycle, webhooks, reconcile, tokens."""
