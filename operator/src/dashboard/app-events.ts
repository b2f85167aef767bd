/**
 * The recent Events of one DistributedApp, listed from the apiserver (`list` on events, like
 * `kubectl describe`), so a standby replica shows the same as the leader. Each app's list is cached for
 * `ttlMs` (default 5 s) so that a polling page costs one request per app per interval; a failed list
 * answers the cached one, or nothing.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { KIND } from '../api/schema.ts';
import { send } from '../controller/api-client.ts';
import type { EventView } from './view-model.ts';

/** Events shown per app, newest first. */
export const RECENT_EVENTS = 30;

/** Where the dashboard gets an app's events. */
export interface AppEventSource {
  /** Newest first, at most {@link RECENT_EVENTS}; never rejects. */
  list(namespace: string, name: string): Promise<EventView[]>;
}

interface CoreEvent {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  firstTimestamp?: string | null;
  metadata?: { creationTimestamp?: string };
}

/** The view of a core/v1 Event (pure). */
export function eventView(event: CoreEvent): EventView {
  return {
    time:
      event.lastTimestamp ??
      event.eventTime ??
      event.firstTimestamp ??
      event.metadata?.creationTimestamp ??
      '',
    type: event.type ?? '',
    reason: event.reason ?? '',
    message: event.message ?? '',
    count: event.count ?? 1,
  };
}

/** Newest first, at most {@link RECENT_EVENTS} (pure). */
export function recentEvents(events: readonly CoreEvent[]): EventView[] {
  return events
    .map(eventView)
    .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0))
    .slice(0, RECENT_EVENTS);
}

/** The app's recent events; undefined when the apiserver refused. Rejects without an answer. */
async function listEvents(kc: KubeConfig, namespace: string, name: string): Promise<EventView[] | undefined> {
  const response = await send(kc, {
    method: 'GET',
    path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
    query: { fieldSelector: `involvedObject.kind=${KIND},involvedObject.name=${name}` },
  });
  if (response.status >= 300) return undefined;
  return recentEvents((response.body as { items?: CoreEvent[] } | undefined)?.items ?? []);
}

/** {@link AppEventSource} over the apiserver, cached per app. */
export function apiEventSource(
  kc: KubeConfig,
  options: { ttlMs?: number; now?: () => number } = {},
): AppEventSource {
  const cache = new Map<string, { events: EventView[]; until: number }>();
  const now = options.now ?? Date.now;
  return {
    async list(namespace, name) {
      const key = `${namespace}/${name}`;
      const hit = cache.get(key);
      if (hit !== undefined && hit.until > now()) return hit.events;
      const events = await listEvents(kc, namespace, name).catch(() => undefined);
      if (events === undefined) return hit?.events ?? [];
      // Apps come and go; a map of every app ever seen would only grow.
      if (cache.size > 1_000) cache.clear();
      cache.set(key, { events, until: now() + (options.ttlMs ?? 5_000) });
      return events;
    },
  };
}
