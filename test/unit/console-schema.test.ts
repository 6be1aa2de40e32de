import { deploymentConsole, frameAncestorProblem } from '../../src/config/console-schema.js';
import { consoleContentSecurityPolicy } from '../../src/console/console-headers.js';

describe('upstreams.<name>.console', () => {
  it('defaults: enabled, framed by nobody', () => {
    expect(deploymentConsole.parse({})).toEqual({ enabled: true, frame_ancestors: [] });
    expect(consoleContentSecurityPolicy([])).toContain("frame-ancestors 'none'");
  });

  it.each([
    ['https://planning.example.com', undefined],
    ['https://planning.example.com:8443', undefined],
    ['http://127.0.0.1:5173', undefined],
    ['http://localhost:3000', undefined],
    ['http://[::1]:3000', undefined],
  ])('accepts %s', (origin, problem) => expect(frameAncestorProblem(origin)).toBe(problem));

  it.each([
    ['http://planning.example.com', /not https/],
    ['https://*.example.com', /wildcard|not an origin/],
    ['https://planning.example.com/', /not an origin as browsers send it/],
    ['https://planning.example.com/app', /not an origin as browsers send it/],
    ['https://Planning.example.com', /not an origin as browsers send it/],
    ['https://planning.example.com:443', /not an origin as browsers send it/],
    ["'self'", /not an origin/],
    ['*', /not an origin|wildcard/],
    ['data:', /not an origin|not https/],
    ['https://a.example https://b.example', /not an origin/],
  ])('frame-ancestors-source-injection: refuses %s', (origin, problem) => expect(frameAncestorProblem(origin)).toMatch(problem));

  it('refuses a list with a bad or repeated origin, naming its index', () => {
    const res = deploymentConsole.safeParse({ frame_ancestors: ['https://a.example', 'http://b.example', 'https://a.example'] });
    expect(res.success).toBe(false);
    expect(res.error!.issues.map((i) => i.path)).toEqual([['frame_ancestors', 1], ['frame_ancestors', 2]]);
  });
});
