import { Metrics } from '../../src/observability/metrics.js';

/** Proxy decisions are counted per request in a plain map and reach prom-client's counter whenever it is read. */
const decisions = async (m: Metrics) =>
  Object.fromEntries(
    (await m.registry.getMetricsAsJSON())
      .find((metric) => metric.name === 'atb_proxy_decisions_total')!
      .values.map((v) => [`${v.labels.deployment} ${v.labels.decision}`, v.value]),
  );

it('proxy-decisions-counted-when-read: every decision counted once, by deployment and decision, read after read', async () => {
  const m = new Metrics();
  for (let i = 0; i < 3; i++) m.countProxyDecision('prod', 'allow');
  m.countProxyDecision('prod', 'deny');
  m.countProxyDecision('staging', 'filtered');
  expect(await decisions(m)).toEqual({ 'prod allow': 3, 'prod deny': 1, 'staging filtered': 1 });
  expect(await decisions(m)).toEqual({ 'prod allow': 3, 'prod deny': 1, 'staging filtered': 1 }); // nothing counted twice
  m.countProxyDecision('prod', 'allow');
  m.countProxyDecision('staging', 'deny');
  expect(await m.registry.metrics()).toContain('atb_proxy_decisions_total{deployment="prod",decision="allow"} 4');
  expect(await decisions(m)).toEqual({ 'prod allow': 4, 'prod deny': 1, 'staging filtered': 1, 'staging deny': 1 });
});

it('proxy-decisions-counted-when-read: two app instances never share counts', async () => {
  const a = new Metrics();
  const b = new Metrics();
  a.countProxyDecision('prod', 'allow');
  expect(await decisions(a)).toEqual({ 'prod allow': 1 });
  expect(await decisions(b)).toEqual({});
});
