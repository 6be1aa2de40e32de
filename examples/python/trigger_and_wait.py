"""Trigger a DAG run with a conf, wait until it has finished, and print its task logs (official client).

    python trigger_and_wait.py DAG_ID ['{"conf": "json"}']
prints {"dag_run_id", "state", "conf", "logs": {task_id: text}}; exits 0 when the run succeeded, 1 otherwise.
"""
import json
import sys
import time

from airflow_client.client import DagRunApi, TaskInstanceApi, TriggerDAGRunPostBody

from airflow_api import airflow_api_client

dag_id = sys.argv[1]
conf = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
with airflow_api_client() as api:
    runs = DagRunApi(api)
    # logical_date is required by Airflow 3 but may be null: a manual run "now".
    run = runs.trigger_dag_run(dag_id, TriggerDAGRunPostBody(conf=conf, logical_date=None))
    while run.state not in ("success", "failed"):  # queued, running; poll gently
        time.sleep(2)
        run = runs.get_dag_run(dag_id, run.dag_run_id)
    task_instances = TaskInstanceApi(api)
    logs = {}
    for ti in task_instances.get_task_instances(dag_id, run.dag_run_id).task_instances:
        log = task_instances.get_log(dag_id, run.dag_run_id, ti.task_id, try_number=max(ti.try_number, 1), full_content=True)
        # Airflow 3 answers structured lines ({"event": ..., "timestamp": ...}) or, for some log handlers, strings.
        lines = log.content.actual_instance or []
        logs[ti.task_id] = "\n".join(line if isinstance(line, str) else line.event for line in lines)
print(json.dumps({"dag_run_id": run.dag_run_id, "state": run.state, "conf": run.conf, "logs": logs}))
sys.exit(0 if run.state == "success" else 1)
