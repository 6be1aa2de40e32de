"""Demo and test DAG for airflow-token-broker.

`extract` is a real Python task (not an EmptyOperator, which the scheduler marks
successful without running it): with a scheduler it goes through the executor,
a worker process and the Task Execution API, and its return value lands in XCom,
so a test can tell that it really ran. It writes one line to its task log (read
it back through the proxy's task-log endpoint) and fails when the run's conf has
`"fail": true`: the failing run of the tests and the demo, without another DAG id.
`"sleep": <seconds>` (at most 60) makes it take that long: a run that outlasts a
`wait --timeout`.
"""
from __future__ import annotations

import logging
import time

try:  # Airflow 3's Task SDK
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2 (scripts/airflow2/): the same DAG id for the /api/v1 tests
    from airflow import DAG
    from airflow.decorators import task

log = logging.getLogger("airflow.task")

with DAG(
    dag_id="etl_daily",
    schedule=None,
    catchup=False,
    tags=["token-broker-test"],
) as dag:

    @task(task_id="extract")
    def extract(**context) -> str:
        conf = context["dag_run"].conf or {}
        time.sleep(min(float(conf.get("sleep", 0)), 60))
        log.info("etl_daily extract: run %s extracted 3 rows", context["run_id"])
        if conf.get("fail") is True:
            raise RuntimeError("etl_daily extract: failing on purpose (conf.fail is true)")
        return "extracted"

    extract()
