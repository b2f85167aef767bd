import { describe, expect, it } from '@jest/globals';
import { parseZooKeeperMode } from '../../../common/src/zookeeper-four-letter.ts';

describe('parseZooKeeperMode', () => {
  it('reads the Mode line of a srvr answer', () => {
    const answer =
      'Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nZxid: 0x100000002\nMode: follower\n';
    expect(parseZooKeeperMode(answer)).toBe('follower');
    for (const mode of ['standalone', 'leader', 'observer'] as const) {
      expect(parseZooKeeperMode(`Received: 3\nMode: ${mode}\nNode count: 5\n`)).toBe(mode);
    }
  });

  it('gives no mode when the member does not serve, or names a mode Capstan does not know', () => {
    expect(parseZooKeeperMode('This ZooKeeper instance is not currently serving requests\n')).toBeUndefined();
    expect(parseZooKeeperMode('Mode: read-only\n')).toBeUndefined();
    expect(parseZooKeeperMode('srvr is not executed because it is not in the whitelist.\n')).toBeUndefined();
    expect(parseZooKeeperMode('')).toBeUndefined();
  });
});
