// The real Airflow 2.11 used by the /api/v1 acceptance tests (scripts/airflow2/), started like Airflow 3's.
export { startAirflow2, type StartAirflow2Options } from '../../scripts/airflow2-server.js';
export type { AirflowServer } from '../../scripts/airflow-server.js';
