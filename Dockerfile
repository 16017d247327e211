# Airflow image with this project's pinned dependencies and packages.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root requirements.lock pyproject.toml /opt/project/
COPY --chown=airflow:root plugins /opt/project/plugins
COPY --chown=airflow:root wonde_emulator /opt/project/wonde_emulator
RUN pip install --no-cache-dir -r /opt/project/requirements.lock \
 && pip install --no-cache-dir --no-deps /opt/project
COPY --chown=airflow:root dags /opt/airflow/dags
