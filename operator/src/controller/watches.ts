/**
 * The caches the reconciler reads and the events that queue it: DistributedApps; every kind it owns,
 * label-selected by `app.kubernetes.io/managed-by=capstan` and mapped to the owning app through the
 * controller owner reference; the app's pods (for crash loops, ZooKeeper rolls and worker remediation); and Secrets, mapped
 * both to their owner and to every app that refers to them. Cached objects are trimmed to what the reconciler reads.
 */
import type { KubernetesObject, V1Pod, V1Secret } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/schema.ts';
import type { DistributedApp } from '../api/schema.ts';
import { appIndexValues, BY_APP_INDEX, MANAGED_BY } from '../model/labels.ts';
import {
  generationOrMetadataChanged,
  requestsForOwner,
  type Controller,
  type EventHandler,
  type Manager,
  type Request,
  type IndexFunc,
  type ResourceRef,
  type Store,
} from '../runtime/index.ts';
import { MultiStore } from './multi-store.ts';
import { podSummary, podView, secretView, trimmed, viewChanged } from './cache-views.ts';
import { referencedSecrets } from './referenced-secrets.ts';
import { DISTRIBUTED_APPS, OWNED_RESOURCES, type OwnedKind } from './resources.ts';

/** Label selector of everything the operator creates. */
export const MANAGED_SELECTOR = `app.kubernetes.io/managed-by=${MANAGED_BY}`;

/** What the reconciler reads. */
export interface AppCaches {
  readonly apps: Store<DistributedApp>;
  /** Objects the operator created, by kind (Secrets: every Secret, data kept only for its own). */
  readonly owned: Readonly<Record<OwnedKind, Store<KubernetesObject>>>;
  readonly secrets: Store<V1Secret>;
  readonly pods: Store<V1Pod>;
}

interface WatchSpec<T extends KubernetesObject> {
  resource: ResourceRef;
  labelSelector?: string;
  transform?: (obj: T) => T;
  indexers?: Readonly<Record<string, IndexFunc<T>>>;
  handler: EventHandler<T>;
  also?: EventHandler<T>;
}

function watch<T extends KubernetesObject>(
  manager: Manager,
  namespaces: readonly string[],
  spec: WatchSpec<T>,
): Store<T> {
  const scopes = namespaces.length === 0 ? [''] : namespaces;
  const stores = new Map<string, Store<T>>();
  for (const scope of scopes) {
    const informer = manager.informer<T>({
      resource: spec.resource,
      namespace: scope === '' ? undefined : scope,
      labelSelector: spec.labelSelector,
      ...(spec.transform === undefined ? {} : { transform: spec.transform }),
      ...(spec.indexers === undefined ? {} : { indexers: spec.indexers }),
    });
    informer.addHandler(spec.handler);
    if (spec.also !== undefined) informer.addHandler(spec.also);
    stores.set(scope, informer.store);
  }
  return new MultiStore(stores);
}

const ownerOf = requestsForOwner<KubernetesObject>({ apiVersion: API_VERSION, kind: KIND });

/** Apps in the Secret's namespace that refer to it. */
function referrers(apps: Store<DistributedApp>, secret: KubernetesObject): Request[] {
  const namespace = secret.metadata?.namespace ?? '';
  const name = secret.metadata?.name;
  return apps
    .list(namespace)
    .filter((app) => referencedSecrets(app).some((ref) => ref.name === name))
    .map((app) => ({ namespace, name: app.metadata.name ?? '' }));
}

/** The app a pod belongs to, by its `app.kubernetes.io/instance` label. */
function podOwner(pod: KubernetesObject): Request[] {
  const app = pod.metadata?.labels?.['app.kubernetes.io/instance'];
  return app === undefined ? [] : [{ namespace: pod.metadata?.namespace ?? '', name: app }];
}

/**
 * Creates the informers (started by the manager) for `namespaces` (empty: all) and connects them to
 * `controller`'s queue; `podHandler` also hears every pod event (the worker-pod history). Returns the
 * caches to read.
 */
export function watchDistributedApps(
  manager: Manager,
  controller: Controller,
  namespaces: readonly string[],
  podHandler?: EventHandler<V1Pod>,
): AppCaches {
  const apps = watch<DistributedApp>(manager, namespaces, {
    resource: DISTRIBUTED_APPS,
    handler: controller.handler({ updatePredicate: generationOrMetadataChanged }),
  });
  const ownedHandler = controller.handler({ map: ownerOf, updatePredicate: viewChanged });
  const owned = Object.fromEntries(
    (Object.keys(OWNED_RESOURCES) as OwnedKind[])
      .filter((kind) => kind !== 'Secret')
      .map((kind) => [
        kind,
        watch(manager, namespaces, {
          resource: OWNED_RESOURCES[kind],
          labelSelector: MANAGED_SELECTOR,
          transform: trimmed(kind),
          indexers: { [BY_APP_INDEX]: appIndexValues },
          handler: ownedHandler,
        }),
      ]),
  ) as Record<Exclude<OwnedKind, 'Secret'>, Store<KubernetesObject>>;
  const secrets = watch<V1Secret>(manager, namespaces, {
    resource: OWNED_RESOURCES.Secret,
    transform: secretView,
    indexers: { [BY_APP_INDEX]: appIndexValues },
    handler: controller.handler({ map: (secret) => [...ownerOf(secret), ...referrers(apps, secret)] }),
  });
  const pods = watch<V1Pod>(manager, namespaces, {
    resource: { group: '', version: 'v1', plural: 'pods' },
    labelSelector: MANAGED_SELECTOR,
    transform: podView,
    indexers: { [BY_APP_INDEX]: appIndexValues },
    handler: controller.handler({
      map: podOwner,
      updatePredicate: (before, after) => podSummary(before) !== podSummary(after),
    }),
    ...(podHandler === undefined ? {} : { also: podHandler }),
  });
  return { apps, owned: { ...owned, Secret: secrets }, secrets, pods };
}
