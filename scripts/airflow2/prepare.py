"""After `airflow db migrate`: FAB's default roles, the test users and the serialized test DAGs, in one process.

Each `airflow` CLI command spends ~7 s importing Airflow; `sync-perm`, one `users create` per user and
`dags reserialize` as separate commands took ~45 s of a 60 s start. This does what they do, with Airflow's own APIs.

    python prepare.py "admin:Admin,proxy:Op,viewer:Viewer"   # each user's password is "<name>-pass"
"""

from __future__ import annotations

import sys

from airflow import settings
from airflow.models.dagbag import DagBag
from airflow.models.serialized_dag import SerializedDagModel
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
from airflow.utils.session import create_session


def create_roles_and_users(users: str) -> None:
    with get_application_builder() as appbuilder:
        # What `airflow sync-perm` does: Op, User and Viewer exist only after it (or a webserver start).
        appbuilder.add_permissions(update_perms=True)
        appbuilder.sm.sync_roles()
        for entry in filter(None, users.split(",")):
            name, _, role_name = entry.partition(":")
            role = appbuilder.sm.find_role(role_name)
            if role is None:
                sys.exit(f"prepare.py: no FAB role {role_name!r} for user {name!r}")
            if appbuilder.sm.find_user(username=name) is not None:
                continue  # a reused AIRFLOW_HOME
            user = appbuilder.sm.add_user(
                username=name,
                first_name=name,
                last_name="test",
                email=f"{name}@example.invalid",
                role=role,
                password=f"{name}-pass",
            )
            if not user:
                sys.exit(f"prepare.py: could not create FAB user {name!r}")
            print(f"[airflow2-prepare] FAB user {name} ({role_name})", file=sys.stderr)


def reserialize_dags() -> None:
    # What `airflow dags reserialize` does: the webserver and /api/v1 read DAGs from serialized_dag only.
    with create_session() as session:
        session.query(SerializedDagModel).delete(synchronize_session=False)
    dagbag = DagBag(dag_folder=settings.DAGS_FOLDER, include_examples=False)
    if dagbag.import_errors:
        sys.exit(f"prepare.py: DAG import errors: {dagbag.import_errors}")
    dagbag.sync_to_db()
    print(f"[airflow2-prepare] serialized DAGs {sorted(dagbag.dag_ids)}", file=sys.stderr)


if __name__ == "__main__":
    create_roles_and_users(sys.argv[1] if len(sys.argv) > 1 else "")
    reserialize_dags()
