import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import {
  CRASH_LOOP_RESTART_MAX_SECONDS,
  CRASH_LOOP_RESTART_MIN_SECONDS,
  REBALANCE_DELAY_MAX_SECONDS,
} from './limits.ts';
import { SecretKeyRef } from './schema-common.ts';

/** `spec.errorReporting.sentry`: Sentry settings of the workers. */
export const SentrySpec = Type.Object(
  {
    dsnSecretRef: SecretKeyRef('the Sentry DSN', 'dsn'),
    environment: Type.String({
      description: 'Sentry environment tag of reported events. Default: production.',
      default: 'production',
      minLength: 1,
      maxLength: 64,
      pattern: '^[^\\s/]+$',
    }),
    sampleRate: Type.Number({
      description: 'Fraction of error events sent, from 0 to 1. Default: 1.',
      default: 1,
      minimum: 0,
      maximum: 1,
    }),
  },
  { description: 'Report worker errors to Sentry. The DSN is only read from a Secret.' },
);
export type SentrySpec = Static<typeof SentrySpec>;

/** `spec.errorReporting`. */
export const ErrorReportingSpec = Type.Object(
  { sentry: Type.Optional(SentrySpec) },
  { description: 'Error reporting of the workers. Unset: errors are only logged.' },
);
export type ErrorReportingSpec = Static<typeof ErrorReportingSpec>;

/** `spec.failurePolicy`: how the operator reacts to failed pods and nodes. */
export const FailurePolicySpec = Type.Object(
  {
    rebalanceDelaySeconds: Type.Integer({
      description:
        `Seconds a failed worker's partitions wait before they move to other workers, 0 to ${REBALANCE_DELAY_MAX_SECONDS}, ` +
        'so a quick container restart does not shuffle partitions. Counted from when the worker went silent: ' +
        'one whose ZooKeeper session expired has been silent for its session timeout already. Default: 10.',
      default: 10,
      minimum: 0,
      maximum: REBALANCE_DELAY_MAX_SECONDS,
    }),
    crashLoopRestartAfterSeconds: Type.Integer({
      description:
        'Seconds a pod may stay in CrashLoopBackOff before the operator deletes it so it is recreated, ' +
        `${CRASH_LOOP_RESTART_MIN_SECONDS} to ${CRASH_LOOP_RESTART_MAX_SECONDS}. Default: 60.`,
      default: 60,
      minimum: CRASH_LOOP_RESTART_MIN_SECONDS,
      maximum: CRASH_LOOP_RESTART_MAX_SECONDS,
    }),
    forceDeletePodsOnFailedNodes: Type.Boolean({
      description:
        'Force-delete StatefulSet pods on NotReady or unreachable nodes so they are recreated elsewhere. ' +
        'Only safe when a failed node cannot come back with the old pod running. Default: false.',
      default: false,
    }),
  },
  { description: 'How the operator reacts to failed workers, crash loops and failed nodes.', default: {} },
);
export type FailurePolicySpec = Static<typeof FailurePolicySpec>;
