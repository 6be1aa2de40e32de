import { DEMO_PORTS, startDemoStack } from './demo-stack.js';
import { DEMO_ACCOUNTS, DEMO_PEOPLE } from './dev-directory.js';

/**
 * `npm run demo` (development only): a throwaway directory (service account demo-etl / demo-etl-secret in group
 * airflow-etl; people alice / alice-password in airflow-etl and bob / bob-password in no group) on :8401, a local Airflow 3 with a scheduler and the demo DAGs, unpaused, on :28080 (installed on
 * first run by scripts/airflow/ensure-venv.sh into a cache), and the broker + proxy with examples/config.yaml on
 * :8400 (ops listener: probes and metrics on 127.0.0.1:9400). DEMO_DIRECTORY_PORT and DEMO_AIRFLOW_PORT move the
 * peers (the config is then rewritten for them); DEMO_SKIP_AIRFLOW=1 runs without Airflow.
 */
process.env.AIRFLOW_PROXY_PASSWORD ??= 'proxy-pass'; // the dev Airflow's fixed password (scripts/airflow/start.sh)

process.stdout.write('Starting the dev directory, Airflow 3 with its scheduler (the first run installs it, ~1-3 min) and the broker...\n');
const stack = await startDemoStack({
  ...(process.env.AIRFLOW_TOKEN_BROKER_CONFIG && { configFile: process.env.AIRFLOW_TOKEN_BROKER_CONFIG }),
  ports: {
    directory: Number(process.env.DEMO_DIRECTORY_PORT ?? DEMO_PORTS.directory),
    airflow: Number(process.env.DEMO_AIRFLOW_PORT ?? DEMO_PORTS.airflow),
  },
  skipAirflow: Boolean(process.env.DEMO_SKIP_AIRFLOW),
});
const { directory, airflow, broker, issuer } = stack;
const proxied = `${issuer}/airflow/local/api/v2`;
const consoleUrl = `${issuer}/console/local`;
const person = (username: string) => DEMO_PEOPLE.find((p) => p.username === username)!;

process.stdout.write(`
  airflow-token-broker demo  (DEVELOPMENT ONLY: fixed secrets, throwaway directory and Airflow)

  directory  ${directory.issuer}   service accounts: ${DEMO_ACCOUNTS.map((a) => `${a.clientId} (${a.groups.join(',') || 'no groups'})`).join(', ')}
             people: ${DEMO_PEOPLE.map((p) => `${p.username} / ${p.password} (${p.groups.join(',') || 'no groups'})`).join(', ')}
  airflow    ${airflow ? airflow.url : '(skipped)'}   DAGs: etl_daily, etl_hourly, report_weekly, payroll_monthly
  broker     ${issuer}   proxy: ${proxied}
  ops        ${broker.opsUrl}/readyz (details: directories, key, policy, Airflow reachability)   ${broker.opsUrl}/metrics
  console    ${consoleUrl}

  0. Open the console in a browser and log in at the dev directory as ${person('alice').username} / ${person('alice').password}
     (group airflow-etl: sees etl_* only, triggers etl_daily, reads its log, edits etl_* variables such as etl_target).
     ${person('bob').username} / ${person('bob').password} has no group: every call is refused, with its reason.

    ${consoleUrl}

  1. Trigger etl_daily through the proxy and wait until it has run (exit 0 on success; docs/cli.md):

    AIRFLOW_TOKEN_BROKER_CLIENT_SECRET=demo-etl-secret npx airflow-token-broker run etl_daily --wait \\
      --issuer ${issuer} --client-id demo-etl --insecure-http

    (add --conf '{"fail": true}' for a run that fails: exit 1)

  2. The same with curl: a token for demo-etl (role etl-operator: etl_* DAGs may be read, triggered, cleared,
     their task logs read), a run, and the line its task logged:

    TOKEN=$(curl -s -u demo-etl:demo-etl-secret -d grant_type=client_credentials ${issuer}/oauth2/token | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
    curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
      -d '{"logical_date": null, "dag_run_id": "demo-1"}' ${proxied}/dags/etl_daily/dagRuns
    curl -s -H "Authorization: Bearer $TOKEN" ${proxied}/dags/etl_daily/dagRuns/demo-1/taskInstances/extract/logs/1

  3. See only the DAGs the policy allows, and a refusal:

    curl -s -H "Authorization: Bearer $TOKEN" ${proxied}/dags
    curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
      -d '{"logical_date": null}' ${proxied}/dags/payroll_monthly/dagRuns

  4. Postman: import examples/postman/ (collection + demo environment), or run it with
     npx newman run examples/postman/airflow-token-broker.postman_collection.json -e examples/postman/demo.postman_environment.json

  Ctrl-C stops everything.
`);

const stop = async () => {
  await stack.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
