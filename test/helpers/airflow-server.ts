// The real Airflow used by acceptance tests is started by the same code as `npm run demo`.
export { freePort, startAirflow, type AirflowServer, type StartAirflowOptions } from '../../scripts/airflow-server.js';
