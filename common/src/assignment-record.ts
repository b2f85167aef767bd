import type { AssignmentResult } from './assignment.ts';

/** Owner and fencing epoch of one partition. `owner` is undefined until the partition is first assigned. */
export interface PartitionOwner {
  owner: string | undefined;
  /** Bumped every time the partition changes owner; writes with side effects carry it. Starts at 0. */
  epoch: number;
}

/** The content of `assignment`: `partitions[p]` describes partition p. */
export interface AssignmentRecord {
  partitions: PartitionOwner[];
}

/** The assignment node does not hold a valid record. */
export class AssignmentFormatError extends Error {
  readonly code = 'ASSIGNMENT_FORMAT';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'AssignmentFormatError';
  }
}

const FORMAT_VERSION = 1;

/** JSON: `{"version":1,"partitions":[{"owner":"worker-0","epoch":3},{"owner":null,"epoch":0},...]}`. */
export function encodeAssignment(record: AssignmentRecord): Buffer {
  const partitions = record.partitions.map((p) => ({ owner: p.owner ?? null, epoch: p.epoch }));
  return Buffer.from(JSON.stringify({ version: FORMAT_VERSION, partitions }));
}

/** Parses what {@link encodeAssignment} wrote. An empty node is an empty record. Throws AssignmentFormatError. */
export function decodeAssignment(data: Buffer): AssignmentRecord {
  if (data.length === 0) return { partitions: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new AssignmentFormatError('assignment is not JSON', { cause: error });
  }
  const { version, partitions } = (parsed ?? {}) as { version?: unknown; partitions?: unknown };
  if (version !== FORMAT_VERSION || !Array.isArray(partitions)) {
    throw new AssignmentFormatError(`assignment has an unknown format (version ${String(version)})`);
  }
  return { partitions: partitions.map((entry, p) => decodeEntry(entry, p)) };
}

function decodeEntry(entry: unknown, partition: number): PartitionOwner {
  const { owner, epoch } = (entry ?? {}) as { owner?: unknown; epoch?: unknown };
  const ownerOk = owner === null || typeof owner === 'string';
  if (!ownerOk || typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0) {
    throw new AssignmentFormatError(`assignment entry ${partition} is invalid`);
  }
  return { owner: owner ?? undefined, epoch };
}

/** The owners of `record` as a list (index = partition), the input of computeAssignment. */
export function ownersOf(record: AssignmentRecord | undefined): (string | undefined)[] {
  return record ? record.partitions.map((p) => p.owner) : [];
}

/** The next record: owners from `result`, with the epoch of every moved partition bumped by one. Pure. */
export function nextRecord(
  previous: AssignmentRecord | undefined,
  result: AssignmentResult,
): AssignmentRecord {
  const moved = new Set(result.moved.map((m) => m.partition));
  return {
    partitions: result.owners.map((owner, p) => {
      const epoch = previous?.partitions[p]?.epoch ?? 0;
      return { owner, epoch: moved.has(p) ? epoch + 1 : epoch };
    }),
  };
}
