"""What the integration details show: overview and health, Sync History, record issues."""
