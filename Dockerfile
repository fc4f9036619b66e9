# syntax=docker/dockerfile:1
# One image for every Airflow component of credit-risk-monitor (api-server, scheduler,
# dag-processor, worker, triggerer, init, cli): the official Airflow image plus our pinned
# requirements and the credit_risk package.
#
# Why extend apache/airflow instead of building on python:3.11-slim: the official image already
# has what the compose stack needs and this project does not pin: the entrypoint (waits for the
# metadata DB, runs `db migrate` and creates the admin user for airflow-init, supports arbitrary
# UIDs with GID 0), the `airflow` user, and the providers for CeleryExecutor, Redis, Postgres and
# the FAB auth manager. On a slim image we would have to rebuild and lock all of that ourselves.
#
# Layout inside the image: the repository lives in /opt/airflow/project and the package is
# installed editable from there, so that docker-compose.yaml can mount dags/, plugins/ and
# include/ over the copies baked in here and the package reads the mounted SQL
# (src/credit_risk/sql is a link to include/sql; a wheel install carries a copy instead).
#
#   docker build --pull -t credit-risk-monitor-airflow:local .

ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}
# Re-declared: an ARG before FROM is not visible after it.
ARG AIRFLOW_VERSION

# Build dependencies of mysqlclient (compiled from source when no matching wheel is there).
# apt runs as root; pip must run as the airflow user (the image refuses root pip installs).
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc pkg-config default-libmysqlclient-dev \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*
USER airflow

# Created by the airflow user (WORKDIR alone may create it root-owned): pip writes the editable
# install's metadata under it.
RUN mkdir -p /opt/airflow/project
WORKDIR /opt/airflow/project

# Dependencies first, so editing code does not invalidate this (slow) layer.
# "apache-airflow==${AIRFLOW_VERSION}" is repeated on purpose, as the Airflow image docs advise:
# if requirements.txt or constraints.txt ever disagree with the base image's Airflow, pip fails
# with a conflict instead of silently up- or downgrading Airflow.
COPY --chown=airflow:0 requirements.txt constraints.txt ./
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
        -r requirements.txt -c constraints.txt

# The project itself: metadata, package, SQL, DAGs, plugins.
COPY --chown=airflow:0 pyproject.toml README.md ./
COPY --chown=airflow:0 src/ src/
COPY --chown=airflow:0 include/ include/
COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 plugins/ plugins/
# Then: the package (editable, deps already there); `pip check` fails the build if our lock and
# the image's preinstalled providers (celery, postgres, fab, ...) disagree; finally make sure
# Airflow is still the base image's version and the package finds its SQL files.
RUN pip install --no-cache-dir --no-deps -e . \
    && pip check \
    && python -c "import airflow; assert airflow.__version__ == '${AIRFLOW_VERSION}', airflow.__version__" \
    && python -c "from credit_risk.settings import SQL_DIR; assert any(SQL_DIR.glob('*/*.sql')), SQL_DIR"

# Mount points used by docker-compose.yaml: project/data (named volume; the package's default
# CREDIT_RISK_DATA_DIR, so everything it writes under PROJECT_ROOT/data is kept) and drops/ (your
# own monthly extracts, bind-mounted read-only). Group-writable for GID 0 (arbitrary UIDs), so a
# fresh named volume inherits a usable ownership.
RUN umask 0002 && mkdir -p /opt/airflow/project/data /opt/airflow/drops

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/project/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/project/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    CREDIT_RISK_DATA_DIR=/opt/airflow/project/data

WORKDIR /opt/airflow
