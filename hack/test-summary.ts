// Prints one closing line for all jest suites of `make test`: "tests: N passed, N failed".
import { readFileSync } from 'node:fs';

interface JestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  const r = JSON.parse(readFileSync(file, 'utf8')) as JestJson;
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests;
}
process.stdout.write(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
