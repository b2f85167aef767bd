/**
 * The controller runtime's public API: import from here rather than from the individual files.
 * It knows nothing of Capstan; see each file for contracts and defaults.
 */
export { systemClock, ManualClock, type Clock, type CancelTimer } from './clock.ts';
export { Controller, type ControllerOptions } from './controller.ts';
export {
  enqueueHandler,
  generationOrMetadataChanged,
  requestForObject,
  requestsForOwner,
  type Enqueue,
  type EnqueueHandlerOptions,
  type ObjectMapper,
  type OwnerKind,
  type UpdatePredicate,
} from './handler.ts';
export {
  HealthChecks,
  buildHealthServer,
  healthPlugin,
  type HealthCheck,
  type HealthPluginOptions,
} from './health.ts';
export {
  Informer,
  collectionPath,
  type EventHandler,
  type InformerOptions,
  type InformerStats,
  type ResourceRef,
} from './informer.ts';
export { LeaderElector, toMicroTime, type LeaderElectionOptions } from './leader-election.ts';
export { createLogger, silentLogger, REDACTED_PATHS, type Logger, type LoggerOptions } from './logger.ts';
export {
  Manager,
  ManagerError,
  runnableFunc,
  type ManagerLeaderElection,
  type ManagerOptions,
  type Runnable,
} from './manager.ts';
export {
  RuntimeMetrics,
  type ControllerMetrics,
  type ReconcileOutcome,
  type RestRequestObserver,
} from './metrics.ts';
export {
  ExponentialBackoff,
  WorkQueue,
  type BackoffOptions,
  type QueueObserver,
  type RateLimiter,
  type WorkQueueOptions,
} from './queue.ts';
export {
  TerminalError,
  done,
  parseRequestKey,
  reconcilerFunc,
  requeueAfter,
  requestKey,
  retry,
  terminal,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
} from './reconciler.ts';
export {
  InstrumentedKubeConfig,
  NO_RESPONSE_CODE,
  RestClientError,
  apiRequest,
  type ApiRequest,
} from './rest-client.ts';
export { periodicResync, type PeriodicResyncOptions } from './resync.ts';
export { ObjectStore, namespaceOf, type IndexFunc, type Store } from './store.ts';
export { readWatchLines, type WatchEvent } from './watch-stream.ts';
