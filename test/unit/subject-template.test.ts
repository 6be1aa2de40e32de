import { OAuthError } from '../../src/errors/oauth-error.js';
import { SubjectTemplate } from '../../src/airflow/credentials/subject-template.js';

const claims = { sub: '7f3c-guid', client_id: 'demo-etl', scope: 'etl-operator', exp: 1_900_000_000, groups: ['a'], empty: '' };

describe('SubjectTemplate', () => {
  it('the default {sub} is the caller\'s sub', () => {
    expect(SubjectTemplate.parse('{sub}').render(claims)).toBe('7f3c-guid');
  });

  it('substitutes every named claim and keeps the text around them', () => {
    expect(SubjectTemplate.parse('svc:{client_id}@{sub}').render(claims)).toBe('svc:demo-etl@7f3c-guid');
  });

  it.each([
    ['{email}', 'email', 'the token has no claim "email"'],
    ['{exp}', 'exp', 'claim "exp" is not a string'],
    ['{groups}', 'groups', 'claim "groups" is not a string'],
    ['{empty}', 'empty', 'claim "empty" is empty'],
  ])('%s refuses the call with a 403 naming the claim', (text, claim, why) => {
    let caught: unknown;
    try {
      SubjectTemplate.parse(text).render(claims);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OAuthError);
    const e = caught as OAuthError;
    expect([e.status, e.code]).toEqual([403, 'insufficient_scope']);
    expect(e.description).toContain(why);
    expect(e.description).toContain(`identity.subject`);
    expect(e.description).toContain(`"${claim}"`);
  });

  it('an inherited property is not a claim', () => {
    expect(() => SubjectTemplate.parse('{constructor}').render(claims)).toThrow('the token has no claim "constructor"');
    expect(() => SubjectTemplate.parse('{toString}').render(claims)).toThrow('the token has no claim "toString"');
  });

  it('a claim value is inserted as it is, never read as a template', () => {
    expect(SubjectTemplate.parse('{sub}').render({ sub: '{client_id}', client_id: 'x' })).toBe('{client_id}');
  });

  it.each([
    ['', 'names no claim'],
    ['demo-etl', 'names no claim'],
    ['{sub', 'unbalanced'],
    ['sub}', 'unbalanced'],
    ['{}', 'empty claim name'],
    ['{a{b}}', 'unbalanced'],
    ['{ sub }', 'not a claim name'],
  ])('refuses the template %j (%s)', (text, why) => {
    expect(SubjectTemplate.problem(text)).toContain(why);
    expect(() => SubjectTemplate.parse(text)).toThrow(why);
  });

  it('a well-formed template has no problem and lists its claims', () => {
    expect(SubjectTemplate.problem('{client_id}/{https://example.com/upn}')).toBeUndefined();
    expect(SubjectTemplate.parse('{client_id}/{https://example.com/upn}').claims).toEqual(['client_id', 'https://example.com/upn']);
  });
});
