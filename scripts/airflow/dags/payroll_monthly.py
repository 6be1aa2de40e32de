"""Test DAG for airflow-token-broker integration tests."""
from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(
    dag_id="payroll_monthly",
    schedule=None,
    catchup=False,
    tags=["token-broker-test"],
) as dag:
    EmptyOperator(task_id="extract")
