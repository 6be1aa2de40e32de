import { assertKindFits, subjectTokenKind, type SubjectTokenKind, type SubjectTokenType } from '../../src/directory/subject-token-kind.js';
import { parseCompactJws } from '../../src/tokens/compact-jws.js';

const keycloak = { name: 'typ', access_token: ['Bearer'], id_token: ['ID'] };
const cognito = { name: 'token_use', access_token: ['access'], id_token: ['id'] };

describe('what a subject token says it is', () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>, typeof keycloak, SubjectTokenKind]>([
    ['RFC 9068 header typ', { typ: 'at+jwt' }, {}, keycloak, 'access_token'],
    ['RFC 9068 media type, any case', { typ: 'Application/AT+JWT' }, {}, keycloak, 'access_token'],
    ['Keycloak access token', { typ: 'JWT' }, { typ: 'Bearer', azp: 'ui' }, keycloak, 'access_token'],
    ['Keycloak ID token', { typ: 'JWT' }, { typ: 'ID', azp: 'ui', auth_time: 1 }, keycloak, 'id_token'],
    ['Cognito ID token', {}, { token_use: 'id' }, cognito, 'id_token'],
    ['client_id claim', {}, { client_id: 'c' }, keycloak, 'access_token'],
    ['scp claim (Entra)', { typ: 'JWT' }, { scp: 'read' }, keycloak, 'access_token'],
    ['nonce', {}, { nonce: 'n' }, keycloak, 'id_token'],
    ['at_hash', {}, { at_hash: 'h' }, keycloak, 'id_token'],
    ['auth_time and azp alone say nothing', {}, { auth_time: 1, azp: 'ui' }, keycloak, 'unknown'],
    ['at+jwt with a nonce', { typ: 'at+jwt' }, { nonce: 'n' }, keycloak, 'conflicting'],
    ['claim typ ID with scope', {}, { typ: 'ID', scope: 'openid' }, keycloak, 'conflicting'],
    ['Keycloak refresh token', { typ: 'JWT' }, { typ: 'Refresh' }, keycloak, 'other'],
    ['logout token', { typ: 'logout+jwt' }, {}, keycloak, 'other'],
    ['non-string header typ', { typ: 7 }, {}, keycloak, 'other'],
    ['non-string type claim', {}, { typ: ['Bearer'] }, keycloak, 'other'],
    ['a claim named like the type claim of another directory is just a claim', {}, { typ: 'Refresh' }, cognito, 'unknown'],
  ])('%s', (_name, header, payload, typeClaim, kind) => {
    expect(subjectTokenKind(header, payload, typeClaim)).toBe(kind);
  });
});

describe('which declared types a kind fits', () => {
  const fits = (kind: SubjectTokenKind, declared: SubjectTokenType) => {
    try {
      assertKindFits(kind, declared);
      return true;
    } catch {
      return false;
    }
  };
  it.each<[SubjectTokenKind, boolean, boolean, boolean]>([
    // kind, access_token, id_token, jwt
    ['access_token', true, false, true],
    ['id_token', false, true, true],
    ['unknown', false, true, true],
    ['conflicting', false, false, false],
    ['other', false, false, false],
  ])('%s', (kind, access, id, jwt) => {
    expect([fits(kind, 'access_token'), fits(kind, 'id_token'), fits(kind, 'jwt')]).toEqual([access, id, jwt]);
  });
});

describe('strict compact JWS', () => {
  const seg = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const good = `${seg({ alg: 'ES256' })}.${seg({ iss: 'x' })}.c2ln`;

  it('decodes the one canonical spelling', () => {
    expect(parseCompactJws(good)).toEqual({ header: { alg: 'ES256' }, payload: { iss: 'x' } });
  });

  it.each([
    ['two segments', good.split('.').slice(0, 2).join('.')],
    ['four segments', `${good}.c2ln`],
    ['empty signature', good.replace(/c2ln$/, '')],
    ['padding', `${good}=`],
    ['standard base64 alphabet', good.replace(/c2ln$/, 'c2+/')],
    ['header a JSON array', `${seg([{ alg: 'ES256' }])}.${seg({ iss: 'x' })}.c2ln`],
    ['payload JSON null', `${seg({ alg: 'ES256' })}.${seg(null)}.c2ln`],
    ['payload not UTF-8', `${seg({ alg: 'ES256' })}.${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.c2ln`],
  ])('refuses %s', (_name, token) => {
    expect(parseCompactJws(token)).toBeUndefined();
  });
});
