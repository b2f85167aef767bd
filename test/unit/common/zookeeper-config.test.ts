import { describe, expect, it } from '@jest/globals';
import { ConfigRenderError } from '../../../common/src/config-render-error.ts';
import {
  renderZooKeeperConfig,
  renderZooKeeperMyId,
  zooKeeperConnectString,
  type ZooKeeperConfigOptions,
} from '../../../common/src/zookeeper-config.ts';

const member = (id: number, host = `zk-${id}.zk.ns.svc`) => ({
  id,
  host,
  quorumPort: 2888,
  electionPort: 3888,
});
const base: ZooKeeperConfigOptions = { dataDir: '/data', clientPort: 2181, members: [member(1)] };
const lines = (text: string): string[] => text.trimEnd().split('\n');

describe('renderZooKeeperConfig', () => {
  it('renders a standalone server for one member, without server lines', () => {
    const out = lines(renderZooKeeperConfig(base));
    expect(out).toEqual(
      expect.arrayContaining([
        'tickTime=2000',
        'initLimit=10',
        'syncLimit=5',
        'dataDir=/data',
        'clientPort=2181',
      ]),
    );
    expect(out.filter((l) => l.startsWith('server.'))).toEqual([]);
  });

  it('disables the admin server and allows ruok, srvr and mntr by default', () => {
    const out = lines(renderZooKeeperConfig(base));
    expect(out).toContain('admin.enableServer=false');
    expect(out).toContain('4lw.commands.whitelist=ruok,srvr,mntr');
  });

  it('renders server.N lines sorted by id for an ensemble, with the hosts given (no loopback assumed)', () => {
    const text = renderZooKeeperConfig({ ...base, members: [member(3), member(1), member(2)] });
    expect(lines(text).filter((l) => l.startsWith('server.'))).toEqual([
      'server.1=zk-1.zk.ns.svc:2888:3888',
      'server.2=zk-2.zk.ns.svc:2888:3888',
      'server.3=zk-3.zk.ns.svc:2888:3888',
    ]);
    expect(text).not.toContain('127.0.0.1');
  });

  it('applies optional settings', () => {
    const out = lines(
      renderZooKeeperConfig({
        ...base,
        tickTime: 500,
        initLimit: 20,
        syncLimit: 4,
        clientPortAddress: '127.0.0.1',
        dataLogDir: '/log',
        fourLetterWords: ['ruok'],
        quorumListenOnAllIPs: true,
        extra: { forceSync: 'no', cnxTimeout: 1000 },
      }),
    );
    expect(out).toEqual(
      expect.arrayContaining([
        'tickTime=500',
        'initLimit=20',
        'syncLimit=4',
        'clientPortAddress=127.0.0.1',
        'dataLogDir=/log',
        '4lw.commands.whitelist=ruok',
        'quorumListenOnAllIPs=true',
        'forceSync=no',
        'cnxTimeout=1000',
      ]),
    );
  });

  it.each<[string, Partial<ZooKeeperConfigOptions>, string]>([
    ['no members', { members: [] }, 'members'],
    ['duplicate ids', { members: [member(1), member(1, 'other')] }, 'members[1].id'],
    ['id out of range', { members: [member(0)] }, 'members[0].id'],
    ['bad client port', { clientPort: 70000 }, 'clientPort'],
    ['host with a newline', { members: [member(1, 'a\nserver.9=evil:1:2')] }, 'members[0].host'],
    ['not a four-letter word', { fourLetterWords: ['stat; rm'] }, 'fourLetterWords'],
    ['bad extra key', { extra: { 'a=b': 1 } }, 'extra'],
  ])('rejects %s', (_name, patch, field) => {
    const render = () => renderZooKeeperConfig({ ...base, ...patch });
    expect(render).toThrow(ConfigRenderError);
    expect(render).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CONFIG_RENDER', field }));
  });
});

describe('renderZooKeeperMyId', () => {
  it('is the id and a newline', () => {
    expect(renderZooKeeperMyId(3)).toBe('3\n');
    expect(() => renderZooKeeperMyId(256)).toThrow(ConfigRenderError);
  });
});

describe('zooKeeperConnectString', () => {
  it('joins hosts with the client port', () => {
    expect(zooKeeperConnectString(['a', 'b'], 2181)).toBe('a:2181,b:2181');
  });
});
