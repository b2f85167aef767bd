/**
 * Decoding of a Kubernetes watch response: one JSON event per line.
 */
import type { KubernetesObject } from '@kubernetes/client-node';

/** One watch event. `ERROR` events carry a `Status` object instead of a resource. */
export interface WatchEvent<T extends KubernetesObject> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: T;
}

/**
 * Yields the events of a watch body. `onActivity` is called for every chunk received (so a caller's
 * watchdog sees bookmarks and partial lines too). Lines that are not valid JSON are skipped.
 * Ends when the body ends; throws if the body fails (including when its request is aborted).
 */
export async function* readWatchLines<T extends KubernetesObject>(
  body: AsyncIterable<Uint8Array>,
  onActivity: () => void,
): AsyncGenerator<WatchEvent<T>> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    onActivity();
    buffered += decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const event = parseLine<T>(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
      if (event !== undefined) yield event;
      newline = buffered.indexOf('\n');
    }
  }
  const last = parseLine<T>(buffered + decoder.decode());
  if (last !== undefined) yield last;
}

function parseLine<T extends KubernetesObject>(line: string): WatchEvent<T> | undefined {
  if (line.trim() === '') return undefined;
  try {
    const event = JSON.parse(line) as Partial<WatchEvent<T>>;
    if (typeof event.type !== 'string' || typeof event.object !== 'object') return undefined;
    return event as WatchEvent<T>;
  } catch {
    return undefined;
  }
}
