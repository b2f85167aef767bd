import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { HarnessError } from './errors.ts';

const SYSTEM_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin'];

/**
 * The absolute path of executable `name`, searched on PATH and then in the system directories (HAProxy
 * lives in /usr/sbin, often not on a user's PATH). Throws {@link HarnessError} `HARNESS_MISSING_BINARY`
 * naming the Debian package to install.
 */
export function findBinary(name: string, debianPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SYSTEM_DIRS];
  const found = dirs.map((d) => join(d, name)).find((p) => existsSync(p));
  if (found) return found;
  throw new HarnessError(
    'HARNESS_MISSING_BINARY',
    `${name} not found; install the ${debianPackage} package (hack/bootstrap.sh debs, as root)`,
  );
}

/** Whether {@link findBinary} would find `name`. */
export function hasBinary(name: string): boolean {
  try {
    findBinary(name, name);
    return true;
  } catch {
    return false;
  }
}
