import { createHash } from 'node:crypto';

/** One partition that changes owner. `from` is undefined for a partition that had no live owner recorded. */
export interface AssignmentMove {
  partition: number;
  from: string | undefined;
  to: string;
}

/** `owners[p]` is the worker that owns partition p; `moved` lists the changes, ascending by partition. */
export interface AssignmentResult {
  owners: (string | undefined)[];
  moved: AssignmentMove[];
}

/**
 * Rendezvous (highest-random-weight) score of `worker` for `partition`: the tie-breaker that makes
 * every choice below deterministic and spreads it evenly. Higher wins; equal scores fall back to the
 * worker id.
 */
export function rendezvousScore(partition: number, worker: string): number {
  return hash32(`${worker}\n${partition}`);
}

/**
 * The first 4 bytes of SHA-1 of the UTF-8 bytes of `value`, unsigned. A cryptographic hash here (not the
 * partition function's CRC-32, which is linear) so that scores of related names are unrelated.
 */
function hash32(value: string): number {
  return createHash('sha1').update(value, 'utf8').digest().readUInt32BE(0);
}

/** The candidate with the highest score for `partition` (ties: the earlier one); `candidates` are sorted. */
function bestWorker(partition: number, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const w of candidates) {
    const score = rendezvousScore(partition, w);
    if (score > bestScore) [best, bestScore] = [w, score];
  }
  return best;
}

/**
 * Computes who owns each of `partitions` partitions, given the previous owners (index = partition;
 * missing or unknown entries count as unowned) and the workers that may own partitions now.
 *
 * - Balanced: every live worker ends with floor(P/n) or ceil(P/n) partitions (max - min <= 1).
 * - Sticky and minimal: a partition keeps its owner unless the owner is gone or holds more than its
 *   share. The workers that already hold the most get the larger shares, so the number of moves is
 *   the least any balanced result needs (partitions of departed workers + the unavoidable excess).
 * - Deterministic: the result depends only on the set of workers (not its order or duplicates) and
 *   on `previous`; which excess partitions a worker gives up, and where freed partitions go, is
 *   decided by rendezvous score.
 *
 * With no live workers nothing can move: previous owners are kept and `moved` is empty.
 * Pure; throws a RangeError on a partition count that is not a non-negative integer.
 */
export function computeAssignment(
  previous: readonly (string | undefined)[],
  liveWorkers: Iterable<string>,
  partitions: number,
): AssignmentResult {
  if (!Number.isSafeInteger(partitions) || partitions < 0) {
    throw new RangeError(`partitions must be a non-negative integer, got ${partitions}`);
  }
  const workers = [...new Set(liveWorkers)].sort();
  const owners = Array.from({ length: partitions }, (_, p) => previous[p]);
  if (workers.length === 0) return { owners, moved: [] };

  const held = new Map<string, number[]>(workers.map((w) => [w, []]));
  const freed: number[] = [];
  owners.forEach((owner, p) => {
    const list = owner === undefined ? undefined : held.get(owner);
    if (list) list.push(p);
    else freed.push(p);
  });
  const capacity = capacities(held, partitions);
  for (const [worker, list] of held) freed.push(...shedExcess(worker, list, capacity.get(worker) ?? 0));

  const moved: AssignmentMove[] = [];
  for (const p of freed.sort((a, b) => a - b)) {
    const to = bestWorker(
      p,
      workers.filter((w) => (held.get(w)?.length ?? 0) < (capacity.get(w) ?? 0)),
    );
    if (to === undefined) throw new Error(`no capacity left for partition ${p}`); // unreachable: capacities sum to P
    held.get(to)?.push(p);
    moved.push({ partition: p, from: owners[p], to });
    owners[p] = to;
  }
  return { owners, moved };
}

/**
 * Shares per worker: P mod n workers get one more than the rest. The extra ones go to the workers
 * holding the most already (ties by a hash of the id), which is what minimises the moves.
 */
function capacities(held: ReadonlyMap<string, number[]>, partitions: number): Map<string, number> {
  const n = held.size;
  const base = Math.floor(partitions / n);
  const extra = partitions % n;
  const count = (w: string): number => held.get(w)?.length ?? 0;
  const tie = new Map([...held.keys()].map((w) => [w, hash32(w)]));
  const ranked = [...held.keys()].sort(
    (a, b) => count(b) - count(a) || (tie.get(b) ?? 0) - (tie.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0),
  );
  return new Map(ranked.map((w, i) => [w, i < extra ? base + 1 : base]));
}

/** Trims `list` in place to `capacity` partitions, keeping those the worker scores highest; returns the rest. */
function shedExcess(worker: string, list: number[], capacity: number): number[] {
  if (list.length <= capacity) return [];
  const ranked = [...list].sort((a, b) => rendezvousScore(b, worker) - rendezvousScore(a, worker) || a - b);
  list.splice(0, list.length, ...ranked.slice(0, capacity));
  return ranked.slice(capacity);
}
