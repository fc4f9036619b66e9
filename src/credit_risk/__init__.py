"""credit-risk-monitor: monthly credit-risk monitoring of card customers.

The package runs without Airflow: the DAG in ``dags/``, the ``credit-risk`` CLI and the
tests all call the same functions.
"""

__version__ = "0.1.0"
