import zookeeper from 'node-zookeeper-client';
import type { ACL, Transaction } from 'node-zookeeper-client';

export type CreateMode = 'persistent' | 'ephemeral' | 'persistent-sequential' | 'ephemeral-sequential';

/** The library's create-mode numbers. */
export const MODES: Record<CreateMode, number> = {
  persistent: zookeeper.CreateMode.PERSISTENT,
  ephemeral: zookeeper.CreateMode.EPHEMERAL,
  'persistent-sequential': zookeeper.CreateMode.PERSISTENT_SEQUENTIAL,
  'ephemeral-sequential': zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
};

/** One queued transaction operation; `version` is the explicit version it asked for, if any. */
export type TransactionOp = ((tx: Transaction) => void) & { version?: number };

/** A ZooKeeper multi: all operations apply atomically or none does (the first failure's code is thrown). */
export class ZooKeeperTransaction {
  readonly #ops: TransactionOp[] = [];
  readonly #acls: ACL[];
  readonly #commitOps: (ops: TransactionOp[]) => Promise<void>;

  constructor(acls: ACL[], commitOps: (ops: TransactionOp[]) => Promise<void>) {
    this.#acls = acls;
    this.#commitOps = commitOps;
  }

  create(path: string, data?: Buffer | string, mode: CreateMode = 'persistent'): this {
    const payload = Buffer.from(data ?? '');
    return this.#push((tx) => tx.create(path, payload, this.#acls, MODES[mode]));
  }

  set(path: string, data: Buffer | string, version = -1): this {
    return this.#push((tx) => tx.setData(path, Buffer.from(data), version), version);
  }

  check(path: string, version: number): this {
    return this.#push((tx) => tx.check(path, version), version);
  }

  remove(path: string, version = -1): this {
    return this.#push((tx) => tx.remove(path, version), version);
  }

  /** Sends the transaction; rejects with the code of the operation that failed. */
  commit(): Promise<void> {
    return this.#commitOps([...this.#ops]);
  }

  #push(op: (tx: Transaction) => void, version?: number): this {
    const entry: TransactionOp = Object.assign(op, version === undefined ? {} : { version });
    this.#ops.push(entry);
    return this;
  }
}
