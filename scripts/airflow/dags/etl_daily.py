"""Test DAG for airflow-token-broker integration tests.

`extract` is a real Python task (not an EmptyOperator, which the scheduler marks
successful without running it): with a scheduler it goes through the executor,
a worker process and the Task Execution API, and its return value lands in XCom,
so a test can tell that it really ran.
"""
from __future__ import annotations

try:  # Airflow 3's Task SDK
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2 (scripts/airflow2/): the same DAG id for the /api/v1 tests
    from airflow import DAG
    from airflow.decorators import task

with DAG(
    dag_id="etl_daily",
    schedule=None,
    catchup=False,
    tags=["token-broker-test"],
) as dag:

    @task(task_id="extract")
    def extract() -> str:
        return "extracted"

    extract()
