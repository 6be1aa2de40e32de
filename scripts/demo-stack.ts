import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { startServer, type RunningServer } from '../src/server.js';
import { freePort, startAirflow, type AirflowServer, type StartAirflowOptions } from './airflow-server.js';
import { Logins } from '../src/login/logins.js';
import { DEV_LOGIN_CLIENT, startDevDirectory, type DevDirectory } from './dev-directory.js';

/**
 * The fixed ports of `npm run demo`, as examples/config.yaml names them. In tests, 0 means a free port taken just
 * before that server starts: a port picked at the start and used a minute later (the broker waits for Airflow) is
 * often taken meanwhile by one of the many connections the other tests open (EADDRINUSE).
 */
export interface DemoPorts {
  broker: number;
  ops: number;
  directory: number;
  airflow: number;
}

export const DEMO_PORTS: DemoPorts = { broker: 8400, ops: 9400, directory: 8401, airflow: 28080 };

/** Every server of the stack on a free port, each taken when its server starts. */
export const FREE_PORTS: DemoPorts = { broker: 0, ops: 0, directory: 0, airflow: 0 };

/**
 * The demo's Airflow: a scheduler (LocalExecutor) so triggered runs finish, a DAG processor so DAG files changed
 * while it runs are picked up, and DAGs unpaused from their creation (every demo DAG has `schedule=None`, so none
 * starts a run on its own). The acceptance tests' own Airflow keeps Airflow's default: new DAGs paused.
 */
export const DEMO_AIRFLOW: StartAirflowOptions = {
  scheduler: true,
  dagProcessor: true,
  env: {
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: 'False',
    // A new DAG file shows within 30 s (Airflow's default: 5 min); one parsing process on a laptop is plenty.
    AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL: '30',
    AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES: '1',
  },
};

export interface DemoStackOptions {
  /** Default: the demo's fixed ones. Other ports run the same config rewritten for them, in a temporary directory. */
  ports?: Partial<DemoPorts>;
  /** Default examples/config.yaml (its only deployment is `local`). */
  configFile?: string;
  /** Run without Airflow (the broker only). */
  skipAirflow?: boolean;
  /** Also change the config (e.g. `logging.level`); the changed config is written to a temporary directory. */
  configure?: (config: Record<string, any>) => void;
}

export interface DemoStack {
  directory: DevDirectory;
  airflow: AirflowServer | undefined;
  broker: RunningServer;
  /** The broker's issuer, e.g. `http://127.0.0.1:8400`. */
  issuer: string;
  stop(): Promise<void>;
}

/**
 * `npm run demo`'s stack: the dev directory (service accounts and people), the demo Airflow (see DEMO_AIRFLOW) and
 * the broker + proxy with examples/config.yaml (people's login and the console included). The Postman and `run --wait` acceptance tests start the same stack on free ports.
 */
export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  const wanted = { ...DEMO_PORTS, ...options.ports };
  // The demo's people log in through the dev directory's login client (examples/config.yaml `login`).
  process.env.LOGIN_CLIENT_SECRET ??= DEV_LOGIN_CLIENT.secret;
  const directory = await startDevDirectory({ port: wanted.directory });
  let airflow: AirflowServer | undefined;
  try {
    const airflowPort = wanted.airflow || (await freePort());
    airflow = options.skipAirflow ? undefined : await startAirflow({ ...DEMO_AIRFLOW, port: airflowPort });
    if (airflow) await seedDemoVariables(airflow.url);
    const ports: DemoPorts = { directory: Number(new URL(directory.issuer).port), airflow: airflowPort, broker: wanted.broker || (await freePort()), ops: wanted.ops || (await freePort()) };
    const configFile = configForPorts(resolve(options.configFile ?? 'examples/config.yaml'), ports, options.configure);
    const broker = await startServer(configFile);
    directory.addLoginRedirectUri(Logins.redirectUri(broker.services.config.issuer));
    return {
      directory,
      airflow,
      broker,
      issuer: broker.services.config.issuer,
      async stop() {
        await broker.stop();
        await airflow?.stop();
        await directory.close();
      },
    };
  } catch (err) {
    await airflow?.stop();
    await directory.close();
    throw err;
  }
}

/**
 * The demo's variables, created as Airflow's admin (the dev Airflow's fixed `admin` / `admin-pass`) unless they exist:
 * `etl_target`, the system the ETL writes to, which a person switches to `fallback` from the console when the
 * primary one is down (the error-recovery case).
 */
export const DEMO_VARIABLES = [{ key: 'etl_target', value: 'primary', description: 'System the ETL DAGs write to: primary, or fallback while it is down' }];

async function seedDemoVariables(airflowUrl: string): Promise<void> {
  const login = await fetch(`${airflowUrl}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'admin-pass' }) });
  if (!login.ok) throw new Error(`the demo Airflow refused its admin login: HTTP ${login.status}`);
  const { access_token } = (await login.json()) as { access_token: string };
  for (const variable of DEMO_VARIABLES) {
    const res = await fetch(`${airflowUrl}/api/v2/variables`, { method: 'POST', headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' }, body: JSON.stringify(variable) });
    if (!res.ok && res.status !== 409) throw new Error(`creating the demo variable ${variable.key}: HTTP ${res.status} ${await res.text()}`);
  }
}

/** The config file itself on the demo's ports; otherwise a copy with issuer, listeners and peers moved. */
function configForPorts(file: string, ports: DemoPorts, configure: DemoStackOptions['configure']): string {
  const same = (Object.keys(DEMO_PORTS) as Array<keyof DemoPorts>).every((k) => ports[k] === DEMO_PORTS[k]);
  if (same && !configure) return file;
  const config = parse(readFileSync(file, 'utf8')) as Record<string, any>;
  const from = `http://127.0.0.1:${DEMO_PORTS.broker}`;
  const issuer = `http://127.0.0.1:${ports.broker}`;
  config.issuer = issuer;
  config.server = { ...config.server, port: ports.broker, ops: { ...config.server?.ops, port: ports.ops } };
  for (const d of Object.values<Record<string, any>>(config.directories ?? {})) d.issuer = `http://127.0.0.1:${ports.directory}`;
  for (const u of Object.values<Record<string, any>>(config.upstreams ?? {})) {
    u.url = `http://127.0.0.1:${ports.airflow}`;
    if (typeof u.audience === 'string') u.audience = u.audience.replace(from, issuer);
  }
  // Paths of the copy: the original policy, and keys and revocations of this run only.
  config.policy_file = resolve(dirname(file), config.policy_file);
  config.keys = { ...config.keys, dir: './keys' };
  config.revocation = { ...config.revocation, sqlite_path: './revocations.sqlite' };
  configure?.(config);
  const dir = mkdtempSync(join(tmpdir(), 'atb-demo-'));
  writeFileSync(join(dir, 'config.yaml'), stringify(config));
  return join(dir, 'config.yaml');
}
