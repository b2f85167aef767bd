import type { KubernetesObject } from '@kubernetes/client-node';
import type { Store } from '../runtime/index.ts';

/**
 * One read view over the caches of several namespaces (one informer each), or over a single
 * all-namespaces cache (key ''). Reads of a namespace nobody watches find nothing.
 */
export class MultiStore<T extends KubernetesObject> implements Store<T> {
  readonly #byNamespace: ReadonlyMap<string, Store<T>>;

  /** `stores` maps each watched namespace to its cache; the key '' means every namespace. */
  constructor(stores: ReadonlyMap<string, Store<T>>) {
    this.#byNamespace = stores;
  }

  #storeFor(namespace: string): Store<T> | undefined {
    return this.#byNamespace.get('') ?? this.#byNamespace.get(namespace);
  }

  get(namespace: string, name: string): T | undefined {
    return this.#storeFor(namespace)?.get(namespace, name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return this.#storeFor(namespace)?.list(namespace) ?? [];
    return [...this.#byNamespace.values()].flatMap((store) => store.list());
  }

  byIndex(index: string, value: string): T[] {
    return [...this.#byNamespace.values()].flatMap((store) => store.byIndex(index, value));
  }

  size(): number {
    return [...this.#byNamespace.values()].reduce((sum, store) => sum + store.size(), 0);
  }
}
