import type { DistributedApp } from '../api/schema.ts';

/** The parts of an app the operator runs; each has its own pods, labels and config checksum. */
export type Component = 'workers' | 'redis' | 'zookeeper' | 'haproxy';

/** Value of `app.kubernetes.io/managed-by` on everything the operator creates. */
export const MANAGED_BY = 'capstan';

/** Value of `app.kubernetes.io/part-of` unless the DistributedApp carries its own. */
export const DEFAULT_PART_OF = 'capstan';

const PREFIX = 'app.kubernetes.io/';

/** `app.kubernetes.io/name` (the software) and `/component` (its role in the app) of each component. */
const IDENTITY: Record<Component, { name: string; component: string }> = {
  workers: { name: 'capstan-worker', component: 'worker' },
  redis: { name: 'redis', component: 'cache' },
  zookeeper: { name: 'zookeeper', component: 'coordination' },
  haproxy: { name: 'haproxy', component: 'load-balancer' },
};

const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/**
 * The tag of an image reference (`redis:7.2` -> `7.2`), or undefined when it has none, is pinned by digest
 * only, or is not a valid label value.
 */
export function imageTag(image: string): string | undefined {
  const withoutDigest = image.split('@')[0] ?? '';
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  if (colon < 0) return undefined;
  const tag = withoutDigest.slice(colon + 1);
  return LABEL_VALUE.test(tag) ? tag : undefined;
}

/**
 * Labels that select one component's pods: `app.kubernetes.io/name`, `/instance` (the app name) and
 * `/component`. Stable for the life of the app (StatefulSet and Deployment selectors are immutable).
 */
export function selectorLabels(app: DistributedApp, component: Component): Record<string, string> {
  const identity = IDENTITY[component];
  return {
    [`${PREFIX}name`]: identity.name,
    [`${PREFIX}instance`]: app.metadata.name ?? '',
    [`${PREFIX}component`]: identity.component,
  };
}

/** Labels that select every pod of the app, whatever its component. */
export function appSelectorLabels(app: DistributedApp): Record<string, string> {
  return { [`${PREFIX}instance`]: app.metadata.name ?? '', [`${PREFIX}managed-by`]: MANAGED_BY };
}

/**
 * The standard labels of every object of `component`: the selector labels plus `part-of` (taken from the
 * app's own `app.kubernetes.io/part-of` label when it has one), `managed-by: capstan` and `version` (the
 * component image's tag, left out when the image has no usable tag).
 */
export function standardLabels(
  app: DistributedApp,
  component: Component,
  image: string | undefined,
): Record<string, string> {
  const partOf = app.metadata.labels?.[`${PREFIX}part-of`];
  const version = image === undefined ? undefined : imageTag(image);
  return {
    ...selectorLabels(app, component),
    [`${PREFIX}part-of`]: partOf !== undefined && LABEL_VALUE.test(partOf) ? partOf : DEFAULT_PART_OF,
    [`${PREFIX}managed-by`]: MANAGED_BY,
    ...(version === undefined ? {} : { [`${PREFIX}version`]: version }),
  };
}

/** A label selector in the string form of `status.selector` and `kubectl -l` (`k=v,k=v`, keys sorted). */
export function selectorString(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(',');
}

/**
 * The cache index of every object and pod of an app, by its `app.kubernetes.io/instance` label
 * (controller/watches.ts sets it up): "the pods of this app" is a lookup, where a scan of every pod of
 * the namespace, per reconcile and per app at each coordinator sync, was quadratic in the apps.
 */
export const BY_APP_INDEX = 'app';

/** The key of the app `namespace/app` in {@link BY_APP_INDEX}. */
export function appIndexKey(namespace: string, app: string): string {
  return `${namespace}/${app}`;
}

/** The {@link BY_APP_INDEX} values of an object: its app's key, or none without the instance label. */
export function appIndexValues(obj: {
  metadata?: { namespace?: string; labels?: Record<string, string> };
}): string[] {
  const app = obj.metadata?.labels?.[`${PREFIX}instance`];
  return app === undefined ? [] : [appIndexKey(obj.metadata?.namespace ?? '', app)];
}
