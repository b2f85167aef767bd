import { describe, expect, it } from '@jest/globals';
import {
  appTree,
  digestId,
  operatorAccess,
  OPERATOR_USER,
  sameAcl,
  worldMayWrite,
  WORKER_USER,
  type ZooKeeperAcl,
} from '../../../common/src/zookeeper-acl.ts';

const CREDENTIALS = { operatorPassword: 'op-secret', workerPassword: 'wk-secret' };
const OPERATOR = digestId(OPERATOR_USER, CREDENTIALS.operatorPassword);
const WORKER = digestId(WORKER_USER, CREDENTIALS.workerPassword);

function grants(acl: readonly ZooKeeperAcl[]): Record<string, string> {
  return Object.fromEntries(
    acl.map((e) => [e.scheme === 'world' ? 'world' : e.id, [...e.perms].sort().join(',')]),
  );
}

describe('digestId', () => {
  it('is the id ZooKeeper computes: user, then base64 of SHA-1 of user:password', () => {
    // The example of ZooKeeper's DigestAuthenticationProvider documentation: super:test.
    expect(digestId('super', 'test')).toBe('super:D/InIHSb7yEEbrWz8b9l71RjZJU=');
  });
});

describe('appTree', () => {
  const tree = new Map(appTree({ namespace: 'demo', app: 'shop' }, CREDENTIALS).map((n) => [n.path, n]));

  it('lists the persistent nodes parents first, creating all but the assignment', () => {
    expect([...tree.keys()]).toEqual([
      '/capstan',
      '/capstan/demo',
      '/capstan/demo/shop',
      '/capstan/demo/shop/assignment',
      '/capstan/demo/shop/members',
      '/capstan/demo/shop/owners',
      '/capstan/demo/shop/leaving',
    ]);
    expect([...tree.values()].filter((n) => !n.create).map((n) => n.path)).toEqual([
      '/capstan/demo/shop/assignment',
    ]);
  });

  it('lets only the operator write the assignment and the workers only read it', () => {
    const acl = grants(tree.get('/capstan/demo/shop/assignment')!.acl);
    expect(acl).toEqual({ [OPERATOR]: 'admin,create,delete,read,write', [WORKER]: 'read' });
  });

  it.each(['members', 'owners', 'leaving'])('lets the workers add and remove %s, nobody else', (dir) => {
    const acl = grants(tree.get(`/capstan/demo/shop/${dir}`)!.acl);
    expect(acl).toEqual({ [OPERATOR]: 'admin,create,delete,read,write', [WORKER]: 'create,delete,read' });
  });

  it('grants the world nothing under the app and never write or admin anywhere', () => {
    for (const node of tree.values()) {
      const world = node.acl.filter((e) => e.scheme === 'world');
      if (node.shared) expect(world.map((e) => [...e.perms].sort())).toEqual([['create', 'delete', 'read']]);
      else expect(world).toEqual([]);
      expect(worldMayWrite(node.acl)).toBe(false);
    }
  });
});

describe('operatorAccess', () => {
  it('authenticates as the operator and lets the workers read what it creates', () => {
    const access = operatorAccess(CREDENTIALS);
    expect(access.auth).toEqual({ user: OPERATOR_USER, password: 'op-secret' });
    expect(grants(access.acl)).toEqual({ [OPERATOR]: 'admin,create,delete,read,write', [WORKER]: 'read' });
  });
});

describe('sameAcl and worldMayWrite', () => {
  it('compare permissions, not their order', () => {
    const a: ZooKeeperAcl[] = [
      { scheme: 'digest', id: 'x', perms: ['read', 'write'] },
      { scheme: 'world', id: 'anyone', perms: ['read'] },
    ];
    const b: ZooKeeperAcl[] = [
      { scheme: 'world', id: 'anyone', perms: ['read'] },
      { scheme: 'digest', id: 'x', perms: ['write', 'read'] },
    ];
    expect(sameAcl(a, b)).toBe(true);
    expect(sameAcl(a, [b[0]!])).toBe(false);
    expect(
      worldMayWrite([
        { scheme: 'world', id: 'anyone', perms: ['read', 'write', 'create', 'delete', 'admin'] },
      ]),
    ).toBe(true);
    expect(worldMayWrite(a)).toBe(false);
  });
});
