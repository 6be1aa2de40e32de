import type { DirectoryLogin } from '../../src/directory/directory-login.js';
import type { DirectoryIdentity } from '../../src/directory/directory.js';

/** Alice as the directory vouches for her after a login. */
export const ALICE: DirectoryIdentity = { directory: 'dev', issuer: 'https://login.example', subject: 'alice', clientId: 'console', groups: ['airflow-etl'], claims: { sub: 'alice' } };

/**
 * A directory that logs `identity` in whatever the callback says, for unit tests of what comes after the callback
 * (the callback's own checks are tested against the real dev directory: test/conformance/login-attacks.test.ts).
 */
export function fakeDirectoryLogin(identity: DirectoryIdentity = ALICE): DirectoryLogin {
  return {
    newChallenge: () => ({ state: 's', nonce: 'n', codeVerifier: 'v' }),
    authorizationUrl: async () => 'https://login.example/authorize',
    complete: async () => ({ identity, idToken: 'id-token' }),
    endSessionUrl: async () => undefined,
  } as unknown as DirectoryLogin;
}
