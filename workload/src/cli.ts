#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { DevRunnerError, runDev } from './dev-runner.ts';

const USAGE = `Usage: capstan dev <DistributedApp.yaml> [--port <haproxy port>] [--upstream <url>]

Runs one DistributedApp on this machine: ZooKeeper, Redis and HAProxy processes, its workers, the
rebalancer and (for cache-gateway) a tiny upstream. Prints the URLs; Ctrl-C stops everything.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      upstream: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, file] = positionals;
  if (values.help || command !== 'dev' || file === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new DevRunnerError(`--port: expected a TCP port, got ${values.port}`);
  }
  await runDev(file, {
    ...(port ? { port } : {}),
    ...(values.upstream ? { upstream: values.upstream } : {}),
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`capstan: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
