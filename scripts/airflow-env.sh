# Source me: Airflow settings for running this project locally (metadata DB on SQLite in .airflow/).
# Values already set in the environment win, so production settings are never overridden.
_project_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CREDIT_RISK_DB_URL="${CREDIT_RISK_DB_URL:-mysql://root@127.0.0.1:3306/credit_risk}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$_project_root/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$_project_root/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$_project_root/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}"
# The warehouse connection the DAG uses, derived from CREDIT_RISK_DB_URL unless set explicitly.
export AIRFLOW_CONN_CREDIT_RISK_MYSQL="${AIRFLOW_CONN_CREDIT_RISK_MYSQL:-$CREDIT_RISK_DB_URL}"
unset _project_root
