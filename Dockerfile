# Airflow image with this project: its runtime dependencies pinned by requirements.lock,
# the package as a wheel (wonde_sync, wonde_emulator and the plugin module, which Airflow
# finds through the package's airflow.plugins entry point: the plugins folder stays empty),
# and the DAGs.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11

FROM ${AIRFLOW_IMAGE} AS wheel
COPY --chown=airflow:root pyproject.toml /home/airflow/src/
COPY --chown=airflow:root plugins /home/airflow/src/plugins
COPY --chown=airflow:root wonde_emulator /home/airflow/src/wonde_emulator
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /home/airflow/dist /home/airflow/src

FROM ${AIRFLOW_IMAGE}
COPY --chown=airflow:root requirements.txt requirements.lock /home/airflow/requirements/
# The lock is used as constraints, so the versions tested here are the ones installed; the
# test and lint tools of requirements.txt stay out of the image.
RUN cd /home/airflow/requirements \
 && grep -vE '^(pytest|pytest-xdist|hypothesis|aiosmtpd|playwright|ruff)==' requirements.txt \
    > runtime.txt \
 && pip install --no-cache-dir --constraint requirements.lock -r runtime.txt
COPY --from=wheel /home/airflow/dist /home/airflow/dist
RUN pip install --no-cache-dir --no-deps /home/airflow/dist/*.whl \
 && mkdir -p /opt/airflow/auth
COPY --chown=airflow:root dags /opt/airflow/dags
