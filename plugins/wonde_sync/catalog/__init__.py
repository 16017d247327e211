"""The schools catalog: rebuilding it from Wonde's directory, and reading it."""
