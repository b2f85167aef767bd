/**
 * The informer's cache: objects of one kind by namespace and name. Only the informer writes to it;
 * readers get the stored objects and must not mutate them.
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
}

/** `namespace` of an object, '' when it has none. */
export function namespaceOf(obj: KubernetesObject): string {
  return obj.metadata?.namespace ?? '';
}

/** A `Store` with write methods for the informer. */
export class ObjectStore<T extends KubernetesObject> implements Store<T> {
  readonly #byNamespace = new Map<string, Map<string, T>>();
  #size = 0;

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
    return previous;
  }
}
