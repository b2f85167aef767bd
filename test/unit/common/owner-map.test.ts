import { describe, expect, it } from '@jest/globals';
import { parseServersState } from '../../../common/src/haproxy-runtime.ts';
import { mapEdits, ownerMap } from '../../../common/src/owner-map.ts';

/** What HAProxy 2.6 prints for `show servers state b` (columns cut after srv_port's neighbours). */
const STATE = [
  '1',
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord',
  '3 b 1 w0 127.0.0.1 2 0 1 1 1 1 0 2 0 0 0 0 - 18100 -',
  '3 b 2 worker2 10.244.1.7 2 0 1 1 1 1 0 2 0 0 0 0 hello-worker-1.hello-workers.ns.svc 8080 -',
  '3 b 3 worker3 - 0 5 1 1 1 1 0 0 8 0 0 0 - 0 -',
  '',
].join('\n');

describe('the owner map', () => {
  it('reads server names and addresses from show servers state, slots without one as undefined', () => {
    expect(parseServersState(STATE)).toEqual([
      { name: 'w0', address: '127.0.0.1:18100' },
      { name: 'worker2', address: '10.244.1.7:8080' },
      { name: 'worker3', address: undefined },
    ]);
  });

  it("maps each held partition to the server at its holder's address, and nothing else", () => {
    const holders = new Map([
      [0, 'a'],
      [1, 'b'],
      [2, 'gone'],
      [3, 'elsewhere'],
    ]);
    const addresses = new Map([
      ['a', '127.0.0.1:18100'],
      ['b', '10.244.1.7:8080'],
      ['elsewhere', '10.9.9.9:8080'],
    ]);
    expect([...ownerMap(holders, addresses, parseServersState(STATE))]).toEqual([
      [0, 'w0'],
      [1, 'worker2'],
    ]);
  });

  it('edits the map with add, set and del as needed', () => {
    const from = new Map([
      [0, 'w0'],
      [1, 'w1'],
      [2, 'w2'],
    ]);
    const to = new Map([
      [0, 'w0'],
      [1, 'w2'],
      [3, 'w1'],
    ]);
    expect(mapEdits('/m', from, to)).toEqual(['set map /m 1 w2', 'add map /m 3 w1', 'del map /m 2']);
    expect(mapEdits('/m', to, to)).toEqual([]);
  });
});
