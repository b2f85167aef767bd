/**
 * The informer's cache: objects of one kind by namespace and name, and by the values of its indexes
 * (controller-runtime's field indexers), so that "the pods of this app" is a lookup, not a scan of
 * every pod of the namespace. Only the informer writes to it; readers get the stored objects and
 * must not mutate them.
 */
import type { KubernetesObject } from '@kubernetes/client-node';

/** Read access to a cache of one kind. */
export interface Store<T extends KubernetesObject> {
  /** The object `namespace/name` ('' namespace for cluster-scoped objects), if cached. */
  get(namespace: string, name: string): T | undefined;
  /** Every cached object, or those of one namespace. */
  list(namespace?: string): T[];
  /** Number of cached objects. */
  size(): number;
  /** The objects whose values of index `index` include `value`; none for an index the store lacks. */
  byIndex(index: string, value: string): T[];
}

/** The values an object has in one index (controller-runtime's IndexerFunc); none leaves it out. */
export type IndexFunc<T extends KubernetesObject> = (obj: T) => readonly string[];

/** `namespace` of an object, '' when it has none. */
export function namespaceOf(obj: KubernetesObject): string {
  return obj.metadata?.namespace ?? '';
}

/** The objects of one index value, made when first needed. */
function indexEntry<T>(values: Map<string, Map<string, T>>, value: string): Map<string, T> {
  let objects = values.get(value);
  if (objects === undefined) {
    objects = new Map<string, T>();
    values.set(value, objects);
  }
  return objects;
}

/** A `Store` with write methods for the informer. */
export class ObjectStore<T extends KubernetesObject> implements Store<T> {
  readonly #byNamespace = new Map<string, Map<string, T>>();
  readonly #indexers: ReadonlyMap<string, IndexFunc<T>>;
  /** index -> value -> the objects with that value, by `namespace/name`. */
  readonly #indices = new Map<string, Map<string, Map<string, T>>>();
  #size = 0;

  constructor(indexers: Readonly<Record<string, IndexFunc<T>>> = {}) {
    this.#indexers = new Map(Object.entries(indexers));
    for (const index of this.#indexers.keys()) this.#indices.set(index, new Map());
  }

  byIndex(index: string, value: string): T[] {
    return [...(this.#indices.get(index)?.get(value)?.values() ?? [])];
  }

  /** Adds `obj` to (or with `add` false, removes it from) the entries of its index values. */
  #index(obj: T, add: boolean): void {
    const id = `${namespaceOf(obj)}/${obj.metadata?.name ?? ''}`;
    for (const [index, values] of this.#indices) {
      for (const value of this.#indexers.get(index)?.(obj) ?? []) {
        if (add) indexEntry(values, value).set(id, obj);
        else if (values.get(value)?.delete(id) === true && values.get(value)?.size === 0)
          values.delete(value);
      }
    }
  }

  get(namespace: string, name: string): T | undefined {
    return this.#byNamespace.get(namespace)?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.#byNamespace.get(namespace)?.values() ?? [])];
    return [...this.#byNamespace.values()].flatMap((objects) => [...objects.values()]);
  }

  size(): number {
    return this.#size;
  }

  /** Stores `obj` and returns the object it replaced. */
  put(obj: T): T | undefined {
    const namespace = namespaceOf(obj);
    const name = obj.metadata?.name ?? '';
    let objects = this.#byNamespace.get(namespace);
    if (objects === undefined) {
      objects = new Map();
      this.#byNamespace.set(namespace, objects);
    }
    const previous = objects.get(name);
    objects.set(name, obj);
    if (previous === undefined) this.#size++;
    else this.#index(previous, false);
    this.#index(obj, true);
    return previous;
  }

  /** Removes `namespace/name` and returns what was stored. */
  delete(namespace: string, name: string): T | undefined {
    const objects = this.#byNamespace.get(namespace);
    const previous = objects?.get(name);
    if (objects === undefined || previous === undefined) return undefined;
    objects.delete(name);
    if (objects.size === 0) this.#byNamespace.delete(namespace);
    this.#size--;
    this.#index(previous, false);
    return previous;
  }
}
