import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { connect, type ZooKeeperClient } from '../../common/src/zookeeper-client.ts';
import type { WorkerConfig } from './config.ts';

/**
 * Connects to ZooKeeper, retrying until it answers: a worker or the owner-map process beside HAProxy
 * may start before its ensemble does (every pod of an app starts at once), and exiting would only make
 * the kubelet restart the container and count it in RESTARTS.
 */
export async function connectZooKeeper(
  zookeeper: WorkerConfig['zookeeper'],
  log: Logger,
): Promise<ZooKeeperClient> {
  const { connectString, sessionTimeoutMs, access } = zookeeper;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect({
        connectString,
        sessionTimeoutMs,
        connectTimeoutMs: sessionTimeoutMs,
        ...access,
      });
    } catch (error) {
      log.warn({ err: error, attempt }, 'zookeeper not reachable yet; retrying');
      await sleep(Math.min(500 * attempt, 5000));
    }
  }
}
