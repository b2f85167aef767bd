/**
 * Real Redis, ZooKeeper and HAProxy processes on 127.0.0.1 for tests and local development, each in its own
 * temp directory with free ports, plus the process and port helpers they are built on.
 */
export { HarnessError, type HarnessErrorCode } from './errors.ts';
export { freePort, freePorts, LOOPBACK } from './ports.ts';
export { ManagedProcess, spawnManaged, logTailSection, type ExitInfo, type ProcessSpec } from './process.ts';
export { canConnect, waitUntil, type WaitOptions } from './probes.ts';
export { tcpExchange, type ExchangeOptions } from '../../../common/src/tcp-exchange.ts';
export { findBinary, hasBinary } from './binaries.ts';
export { makeTempDir, removeDir } from './temp-dir.ts';
export { startRedis, type RedisOptions, type RedisService } from './redis.ts';
export {
  startZooKeeper,
  startZooKeeperEnsemble,
  type ZooKeeperMemberHandle,
  type ZooKeeperMode,
  type ZooKeeperOptions,
  type ZooKeeperService,
} from './zookeeper.ts';
export { startHaproxy, type HaproxyOptions, type HaproxyService } from './haproxy.ts';
