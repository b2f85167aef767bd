import { request } from 'undici';

/** What {@link sampleOwners} saw: how many rounds, and every partition two workers served in one round. */
export interface OwnerSamples {
  rounds: number;
  doubles: { partition: number; workers: string[] }[];
}

/** A worker's `/_capstan/status` (its id and the partitions it serves), or undefined when it does not answer in 1 s. */
export async function workerStatus(url: string): Promise<{ workerId: string; owned: number[] } | undefined> {
  try {
    const response = await request(`${url}/_capstan/status`, { headersTimeout: 1000, bodyTimeout: 1000 });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return undefined;
    }
    return (await response.body.json()) as { workerId: string; owned: number[] };
  } catch {
    return undefined; // a worker that is down serves nothing
  }
}

/**
 * Reads every worker's `/_capstan/status` in rounds until `stop()` (bounded by `maxMs`) and records any
 * partition that two workers said they served in the same round. A round is not one instant, so a
 * clean result is evidence, not proof; a double is a real overlap unless a move happened between reads.
 */
export async function sampleOwners(
  workerUrls: string[],
  stop: () => boolean,
  maxMs = 180_000,
): Promise<OwnerSamples> {
  const result: OwnerSamples = { rounds: 0, doubles: [] };
  const deadline = Date.now() + maxMs;
  while (!stop() && Date.now() < deadline) {
    const statuses = await Promise.all(workerUrls.map(workerStatus));
    const servedBy = new Map<number, string[]>();
    for (const status of statuses) {
      for (const p of status?.owned ?? []) servedBy.set(p, [...(servedBy.get(p) ?? []), status!.workerId]);
    }
    for (const [partition, workers] of servedBy)
      if (workers.length > 1) result.doubles.push({ partition, workers });
    result.rounds++;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return result;
}
