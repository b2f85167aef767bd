#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { DevRunnerError, runDev } from './dev-runner.ts';
import { FETCHES_PATH, startTinyUpstream } from './tiny-upstream.ts';

const USAGE = `Usage: capstan dev <DistributedApp.yaml> [--port <haproxy port>] [--upstream <url>]
       capstan upstream [--port <port>]

dev: runs one DistributedApp on this machine: ZooKeeper, Redis and HAProxy processes, its workers,
the rebalancer and (for cache-gateway) a tiny upstream. Prints the URLs; Ctrl-C stops everything.
upstream: serves the tiny upstream for cache-gateway on all addresses (default port 8080):
GET /<key> answers a JSON value and counts the fetch; GET ${FETCHES_PATH} returns the counts.`;

function parsePort(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const port = Number(raw);
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new DevRunnerError(`--port: expected a TCP port, got ${raw}`);
  }
  return port;
}

/** Runs the tiny upstream until SIGTERM or SIGINT (it is a container's main process in the demo). */
async function serveUpstream(port: number): Promise<void> {
  const upstream = await startTinyUpstream({ port, host: '0.0.0.0' });
  process.stdout.write(`tiny upstream listening on ${upstream.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await upstream.close();
}

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
  const port = parsePort(values.port);
  if (!values.help && command === 'upstream') {
    await serveUpstream(port ?? 8080);
    return 0;
  }
  if (values.help || command !== 'dev' || file === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
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
