import { existsSync, rmSync } from 'node:fs';
import { createBenchContext } from './bench-context.js';
import { writeReport } from './bench-report.js';
import { measure } from './measure.js';
import { freePort } from './processes.js';
import { keepProfiles } from './profiles.js';
import { measureProxy, measureRealAirflow, proxyScenariosSelected, type ProxyFindings } from './proxy-scenarios.js';
import { fetchSubjectToken, preflight, tokenScenarios } from './scenarios.js';
import { directoryTokenEndpoint, startBroker, startDirectory, startStandIn } from './services.js';
import { AIRFLOW_START, selected, settings, type ScenarioId } from './settings.js';
import { ensureWrk } from './wrk.js';

/**
 * `npm run bench`: the dev directory, the broker, a stand-in Airflow and wrk as processes on loopback (plus the
 * anchors of the proxy comparison and a real Airflow for their scenarios); token issuance and the proxy, each
 * against its baseline. bench/README.md explains the scenarios, the knobs and how to read the output.
 */

const ctx = createBenchContext();
let exitCode = 0;

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the bench processes\n`);
    void ctx.group.stopAll(1_000).finally(() => process.exit(130));
  });
}

try {
  exitCode = await main();
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exitCode = 1;
} finally {
  await ctx.group.stopAll();
  if (process.env.BENCH_KEEP_TMP !== '1') rmSync(ctx.tmp, { recursive: true, force: true });
}
process.exit(exitCode);

async function main(): Promise<number> {
  const wrkVersion = ensureWrk();
  const directory = await startDirectory(ctx);
  const standIn = await startStandIn(ctx, { name: 'stand-in', profiled: true });
  const tokenEndpoint = await directoryTokenEndpoint(directory.issuer);
  // Airflow starts only for its own scenario; the broker is configured for its port from the beginning.
  const airflowPort = selected('airflow') && existsSync(AIRFLOW_START) ? await freePort() : undefined;
  const broker = await startBroker(ctx, directory.issuer, standIn.url, airflowPort);
  const subjectToken = await fetchSubjectToken(tokenEndpoint);
  const scenarios = tokenScenarios(broker.url, tokenEndpoint, subjectToken).filter((s) => selected(s.id as ScenarioId));
  await preflight(scenarios);
  const runs = await measure(ctx, scenarios);
  const findings: ProxyFindings = {};
  if (proxyScenariosSelected()) await measureProxy(ctx, broker, standIn.url, runs, findings);
  if (selected('airflow')) findings.airflow = await measureRealAirflow(ctx, broker, airflowPort, runs);
  await ctx.group.stopAll();
  const profiles = settings.cpuProfile ? keepProfiles(ctx) : undefined;
  return writeReport(runs, findings, wrkVersion, profiles);
}
