import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryRevocationStore } from '../../src/tokens/revocation-store.js';
import { SqliteRevocationStore } from '../../src/tokens/sqlite-revocation-store.js';
import { revocationStoreContract } from '../helpers/revocation-contract.js';

describe('memory revocation store', () => revocationStoreContract((now) => new MemoryRevocationStore(now)));
describe('sqlite revocation store', () =>
  revocationStoreContract((now) => new SqliteRevocationStore(join(mkdtempSync(join(tmpdir(), 'atb-rev-')), 'r.sqlite'), now)));
