"""Test DAG for airflow-token-broker integration tests."""
from __future__ import annotations

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

with DAG(
    dag_id="report_weekly",
    schedule=None,
    catchup=False,
    tags=["token-broker-test"],
) as dag:
    BashOperator(task_id="extract", bash_command="echo report")
