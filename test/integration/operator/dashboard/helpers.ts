/** Helpers of the dashboard tests: its JSON API, tokens of ServiceAccounts, the partition map against ZooKeeper. */
import type { AssignmentRecord } from '../../../../common/src/assignment-record.ts';
import type { AppDetail, PartitionCell } from '../../../../operator/src/dashboard/view-model.ts';
import { kubectl } from '../../../harness/kube.ts';

/** Status and body text of `GET url+path`, with a bearer token when given. */
export async function dashboardGet(
  url: string,
  path: string,
  token?: string,
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  const response = await fetch(`${url}${path}`, { headers });
  return { status: response.status, text: await response.text() };
}

/** The JSON of `GET url+path`, or undefined while it does not answer 200. */
export async function dashboardJson<T>(url: string, path: string, token?: string): Promise<T | undefined> {
  try {
    const { status, text } = await dashboardGet(url, path, token);
    return status === 200 ? (JSON.parse(text) as T) : undefined;
  } catch {
    return undefined;
  }
}

/** The owner and epoch of each partition as ZooKeeper's assignment has them. */
export function assignmentCells(record: AssignmentRecord): { owner: string | null; epoch: number }[] {
  return record.partitions.map((p) => ({ owner: p.owner ?? null, epoch: p.epoch }));
}

/** The owner and epoch of each partition as a partition map shows them. */
export function mapCells(cells: readonly PartitionCell[]): { owner: string | null; epoch: number }[] {
  return cells.map((c) => ({ owner: c.owner, epoch: c.epoch }));
}

/** Whether the detail's map is the assignment, every partition held by its owner. */
export function showsAssignment(
  detail: AppDetail | undefined,
  record: AssignmentRecord | undefined,
): boolean {
  const cells = detail?.partitionMap?.partitions;
  if (cells === undefined || record === undefined) return false;
  const same = JSON.stringify(mapCells(cells)) === JSON.stringify(assignmentCells(record));
  return same && cells.every((c) => c.state === 'owned');
}

/**
 * A ServiceAccount in `namespace` and a token for it; with `canRead`, bound to a ClusterRole that allows
 * what the dashboard asks (`get` on distributedapps.capstan.dev). Returns the token and the cleanup.
 */
export async function serviceAccountToken(
  namespace: string,
  name: string,
  canRead: boolean,
): Promise<{ token: string; cleanup: () => Promise<void> }> {
  const role = `${namespace}-${name}`;
  const items: unknown[] = [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } }];
  if (canRead) {
    items.push(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: role },
        rules: [{ apiGroups: ['capstan.dev'], resources: ['distributedapps'], verbs: ['get'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: role },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    );
  }
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
  const token = (await kubectl(['create', 'token', name, '-n', namespace, '--duration=1h'])).stdout.trim();
  return {
    token,
    cleanup: async () => {
      if (!canRead) return;
      await kubectl(['delete', 'clusterrole,clusterrolebinding', role, '--ignore-not-found'], {
        allowFailure: true,
      });
    },
  };
}
