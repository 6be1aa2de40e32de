// `npm test`: type-check and build everything, then run jest (ESM needs --experimental-vm-modules).
import { spawnSync } from 'node:child_process';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim() } });

// Emitting (not only --noEmit) also builds dist/, which the CLI tests run as the real bin.
const typecheck = run('tsc', ['-p', 'tsconfig.json']);
if (typecheck.status !== 0) process.exit(typecheck.status ?? 1);
const jest = run('jest', process.argv.slice(2));
process.exit(jest.status ?? 1);
