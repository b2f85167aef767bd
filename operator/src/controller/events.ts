/**
 * Records core/v1 Events on a DistributedApp for what a person should see. The same event (app, type,
 * reason, message) is not recorded twice within `dedupWindowMs`, so retries and repeated reconciles
 * add nothing; steady state records none.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/schema.ts';
import type { DistributedApp } from '../api/schema.ts';
import type { StatusEvent } from '../model/status-events.ts';
import { systemClock, type Clock, type Logger } from '../runtime/index.ts';
import { send, statusMessage } from './api-client.ts';

/** Options of `EventRecorder`. */
export interface EventRecorderOptions {
  readonly kubeConfig: KubeConfig;
  /** `reportingInstance` of the events (the operator's identity). */
  readonly instance: string;
  readonly logger: Logger;
  /** Default 10 minutes. */
  readonly dedupWindowMs?: number;
  readonly clock?: Clock;
}

const COMPONENT = 'capstan-operator';
const MAX_REMEMBERED = 10_000;

/** See the module comment. Failures to record are logged, never thrown. */
export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #clock: Clock;
  readonly #recent = new Map<string, number>();

  constructor(options: EventRecorderOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  #isDuplicate(key: string): boolean {
    const now = this.#clock.now();
    const last = this.#recent.get(key);
    if (last !== undefined && now - last < (this.#o.dedupWindowMs ?? 600_000)) return true;
    this.#recent.delete(key);
    this.#recent.set(key, now);
    if (this.#recent.size > MAX_REMEMBERED) this.#recent.delete(this.#recent.keys().next().value ?? '');
    return false;
  }

  /** Records `event` on `app` unless the same event was recorded recently. */
  async record(app: DistributedApp, event: StatusEvent): Promise<void> {
    const { name = '', namespace = '', uid = '' } = app.metadata;
    if (this.#isDuplicate(`${uid}\u0000${event.type}\u0000${event.reason}\u0000${event.message}`)) return;
    const now = new Date(this.#clock.now()).toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${name}.`, namespace },
      involvedObject: { apiVersion: API_VERSION, kind: KIND, name, namespace, uid },
      type: event.type,
      reason: event.reason,
      message: event.message.slice(0, 1024),
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.#o.instance,
    };
    try {
      const response = await send(this.#o.kubeConfig, {
        method: 'POST',
        path: `/api/v1/namespaces/${namespace}/events`,
        body,
      });
      if (response.status >= 300) {
        this.#o.logger.warn({ reason: event.reason, error: statusMessage(response) }, 'event not recorded');
      }
    } catch (error: unknown) {
      this.#o.logger.warn({ err: error, reason: event.reason }, 'event not recorded');
    }
  }
}
