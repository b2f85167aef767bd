import type { Config } from 'jest';

// Sources are ESM TypeScript run by Node's type stripping; jest transforms them with swc and
// runs them as ES modules (node --experimental-vm-modules, set in the npm scripts).
const transform: Config['transform'] = {
  '^.+\\.ts$': [
    '@swc/jest',
    { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } },
  ],
};
// tmp/ holds clusters' etcd data (whose *.snap files jest would take for snapshots) and .tools/ a Node build.
const ignored = ['<rootDir>/tmp/', '<rootDir>/.tools/', '<rootDir>/node_modules/', '<rootDir>/dist/'];
const common = {
  transform,
  extensionsToTreatAsEsm: ['.ts'],
  testEnvironment: 'node',
  modulePathIgnorePatterns: ignored,
  testPathIgnorePatterns: ignored,
};

const config: Config = {
  // Integration and e2e tests wait on real processes; each wait has its own deadline, this is the backstop.
  testTimeout: 180_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      // Run three at a time (make test-integration), beside each other; a *.serial.test.ts disrupts
      // what the others share (it restarts the API server) and runs in the project below, alone, on a
      // cluster of its own.
      testPathIgnorePatterns: [...ignored, '\\.serial\\.test\\.ts$'],
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'integration-serial',
      testMatch: ['<rootDir>/test/integration/**/*.serial.test.ts'],
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
  ],
};
export default config;
