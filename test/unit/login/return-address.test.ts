import { sameOriginPath } from '../../../src/login/return-address.js';

describe('sameOriginPath', () => {
  it.each([
    ['protocol-relative', '//evil.example'],
    ['absolute-https', 'https://evil.example/console'],
    ['backslash-after-slash', '/\\evil.example'],
    ['backslash-first', '\\\\evil.example'],
    ['scheme-javascript', 'javascript:alert(1)'],
    ['relative-path', 'console'],
    ['control-character', '/\n/evil.example'],
    ['tab-between-slashes', '/\t/evil.example'],
    ['empty', ''],
    ['not-a-string', ['/console', '//evil.example']],
    ['too-long', '/' + 'a'.repeat(3000)],
  ])('return-address-%s is replaced by /console', (_name, value) => {
    expect(sameOriginPath(value)).toBe('/console');
  });

  it.each(['/console', '/console/prod?dag=etl_daily', '/oauth2/authorize?client_id=x&state=y', '/console#runs'])('%s is kept', (value) => {
    expect(sameOriginPath(value)).toBe(value);
  });
});
