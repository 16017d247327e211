"""What the DAGs' tasks call: catalog and import steps, outcomes, defaults, Assets."""
