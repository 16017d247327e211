"""The HTTP layer served by Airflow's API server: the API, the UI page, their auth."""
