/** The coordination code shared by the workers and the operator. */
export * from './zookeeper-error.ts';
export * from './zookeeper-client.ts';
export * from './ephemeral-registry.ts';
export * from './zk-paths.ts';
export * from './partition.ts';
export * from './assignment.ts';
export * from './assignment-record.ts';
export * from './timers.ts';
export * from './rebalancer.ts';
export * from './partition-ownership.ts';
