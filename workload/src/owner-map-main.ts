/**
 * The process beside HAProxy that keeps its partition -> owner map in step with ZooKeeper (see
 * common/src/owner-map.ts), so that HAProxy sends each request to its partition's owner. It reads the
 * app's nodes with the workers' identity. Without it (not started yet, crashed) HAProxy keeps the last
 * map it was given, or none, and requests reach some worker that forwards them: routing degrades to
 * one hop, never to an error.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { OwnerMapSync } from '../../common/src/owner-map.ts';
import { ConfigError, loadOwnerMapConfig, type OwnerMapConfig } from './config.ts';
import { connectZooKeeper } from './zookeeper-connect.ts';

async function run(config: OwnerMapConfig): Promise<void> {
  const log = pino({ level: config.logLevel, base: { app: config.appName, process: 'owner-map' } });
  const client = await connectZooKeeper(config.zookeeper, log);
  const sync = new OwnerMapSync({
    namespace: config.namespace,
    app: config.appName,
    client,
    runtime: config.runtime,
    mapFile: config.mapFile,
    backend: 'workers',
    logger: log,
  });
  // HAProxy starts beside this process: wait for its admin socket.
  for (let attempt = 1; ; attempt++) {
    try {
      await sync.start();
      break;
    } catch (error) {
      if (attempt === 1) log.warn({ err: error }, 'HAProxy admin socket not answering yet; retrying');
      await sleep(Math.min(200 * attempt, 2000));
    }
  }
  log.info({ entries: sync.applied.size }, 'owner map in step with ZooKeeper');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      void sync
        .close()
        .then(() => client.close())
        .finally(() => process.exit(0));
    });
  }
}

try {
  await run(loadOwnerMapConfig());
} catch (error) {
  const fields = error instanceof ConfigError ? { code: error.code, variables: error.variables } : {};
  process.stderr.write(`${JSON.stringify({ level: 'fatal', ...fields, msg: String(error) })}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
}
