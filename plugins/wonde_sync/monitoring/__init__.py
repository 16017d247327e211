"""What the integration details show: health rules, Sync History queries, CSV."""
