"""Test DAG for airflow-token-broker integration tests."""
from __future__ import annotations

try:  # Airflow 3: operators in the standard provider, DAG in the Task SDK
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2 (scripts/airflow2/): the same DAG id for the /api/v1 tests
    from airflow import DAG
    from airflow.operators.bash import BashOperator

with DAG(
    dag_id="report_weekly",
    schedule=None,
    catchup=False,
    tags=["token-broker-test"],
) as dag:
    BashOperator(task_id="extract", bash_command="echo report")
